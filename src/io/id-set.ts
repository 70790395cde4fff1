/**
 * The set of record ids seen so far, for the FASTA reader's duplicate check,
 * kept out of the JavaScript heap: a `Set<string>` of millions of ids costs
 * a string object per id and makes every full garbage collection walk them
 * all. Here the ids' characters go into one growing byte array and an
 * open-addressing table of typed arrays indexes them; a hash match is
 * confirmed by comparing the characters, so the answer is exact.
 *
 * Ids with a character beyond Latin-1 (rare in FASTA headers) go into an
 * ordinary `Set`, so one byte per character suffices for the rest.
 *
 * Memory: about id length + 20 bytes per id.
 *
 * Public API:
 * - `class IdSet { add(id): boolean; size }` — `add` returns false when `id` was already there.
 * - `class DuplicateIdCheck { note(id, line); throwIfAny(fileName) }` — the readers' duplicate-ID error.
 */
import { InputError } from '../util/errors.js';

export class IdSet {
  private chars = new Uint8Array(1 << 16);
  private charsUsed = 0;
  private hashes = new Uint32Array(1 << 10);
  private offsets = new Uint32Array(1 << 10);
  private lengths = new Uint32Array(1 << 10);
  /** Entry index + 1 per slot, 0 = empty; at most half full. */
  private slots = new Uint32Array(1 << 11);
  private entries = 0;
  private readonly wide = new Set<string>();

  get size(): number {
    return this.entries + this.wide.size;
  }

  add(id: string): boolean {
    const n = id.length;
    // FNV-1a over the characters; any char code above 255 sends the id to the wide set.
    let h = 0x811c9dc5;
    for (let k = 0; k < n; k++) {
      const c = id.charCodeAt(k);
      if (c > 0xff) return this.addWide(id);
      h = Math.imul(h ^ c, 0x01000193);
    }
    h >>>= 0;
    const mask = this.slots.length - 1;
    let slot = h & mask;
    for (let e; (e = this.slots[slot]) !== 0; slot = (slot + 1) & mask) {
      if (this.hashes[e - 1] === h && this.lengths[e - 1] === n && this.sameChars(e - 1, id)) return false;
    }
    this.append(id, h, slot);
    return true;
  }

  private addWide(id: string): boolean {
    if (this.wide.has(id)) return false;
    this.wide.add(id);
    return true;
  }

  private sameChars(entry: number, id: string): boolean {
    const chars = this.chars;
    const at = this.offsets[entry];
    for (let k = 0; k < id.length; k++) if (chars[at + k] !== id.charCodeAt(k)) return false;
    return true;
  }

  private append(id: string, hash: number, slot: number): void {
    const n = id.length;
    if (this.charsUsed + n > this.chars.length) this.chars = grow(this.chars, this.charsUsed + n);
    for (let k = 0; k < n; k++) this.chars[this.charsUsed + k] = id.charCodeAt(k);
    const e = this.entries;
    if (e === this.hashes.length) {
      this.hashes = grow(this.hashes, e + 1);
      this.offsets = grow(this.offsets, e + 1);
      this.lengths = grow(this.lengths, e + 1);
    }
    this.hashes[e] = hash;
    this.offsets[e] = this.charsUsed;
    this.lengths[e] = n;
    this.charsUsed += n;
    this.slots[slot] = e + 1;
    this.entries = e + 1;
    if (2 * this.entries > this.slots.length) this.rehash();
  }

  /** Doubles the slot table and re-inserts every entry by its stored hash. */
  private rehash(): void {
    const slots = new Uint32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let e = 0; e < this.entries; e++) {
      let slot = this.hashes[e] & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = e + 1;
    }
    this.slots = slots;
  }
}

function grow<T extends Uint8Array | Uint32Array>(a: T, atLeast: number): T {
  const bigger = new (a.constructor as new (n: number) => T)(Math.max(atLeast, a.length * 2));
  bigger.set(a);
  return bigger;
}

/** The record IDs a reader has seen more than once, with the line of each repeat, reported at the end of the file. */
export class DuplicateIdCheck {
  private readonly seen = new IdSet();
  private readonly repeats: { id: string; line: number }[] = [];

  /** Notes the ID of a record starting at `line`. */
  note(id: string, line: number): void {
    if (!this.seen.add(id)) this.repeats.push({ id, line });
  }

  /** Throws, naming up to 20 repeats, when any ID was seen twice in the file `name`. */
  throwIfAny(name: string): void {
    if (this.repeats.length === 0) return;
    const shown = this.repeats.slice(0, 20).map((d) => `'${d.id}' (line ${d.line})`);
    const more = this.repeats.length > 20 ? `, and ${this.repeats.length - 20} more` : '';
    throw new InputError(`${name}: ${this.repeats.length} duplicate record ID(s): ${shown.join(', ')}${more}`, {
      hint: 'record IDs (the first word of each header) must be unique: outputs are keyed by them',
    });
  }
}
