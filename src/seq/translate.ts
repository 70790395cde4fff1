/**
 * Six-frame translation and frame selection, bit-exact with VirNucPro's
 * `units.translate_dna` and `units.identify_seq` (prediction path).
 *
 * Quirks kept on purpose (the classifier was trained on them):
 * - The codon table has entries for uppercase A/C/G/T triplets only. A codon
 *   with any other character (N, IUPAC ambiguity codes, lowercase) is silently
 *   dropped, so the protein gets shorter than `len/3` and no longer lines up
 *   with the nucleotides.
 * - Frames F1..F3 read the sequence from offsets 0..2; R1..R3 read its reverse
 *   complement, where only ACGTacgt are complemented (N stays N).
 * - A frame is kept when its protein has no `*` and is not empty.
 * - The nucleotide kept for frame k is `seq[k-1 : k + 3*len(protein)]`: one base
 *   more than the coding triplets unless it runs into the end.
 *
 * The work happens on ASCII byte arrays with lookup tables (no per-character
 * strings): `identifyFrameBytes` is the hot path used by `translate` and
 * `predict`; the string functions wrap it for tests and small callers. It
 * first scans each frame for a stop codon, stopping at the first one (a
 * table lookup on the raw bytes, two codons per branch), and translates only
 * the stop-free frames: on random sequence almost every frame meets a stop
 * within about 21 codons, and a rejected frame costs nothing else.
 *
 * Public API:
 * - `CODON_TABLE` — the original's 64 codons.
 * - `reverseComplement(seq: string): string`
 * - `translateSixFrames(seq: string): string[]` — F1, F2, F3, R1, R2, R3 proteins, stops included.
 * - `identifyFrames(seqid: string, sequence: string): Frame[]` — `identify_seq` + the `protein != ''` filter.
 * - `identifyFrameBytes(sequence: Uint8Array): FrameBytes[]` — the same on bytes; views into scratch memory.
 */

/** The table of `units.translate_dna` (the standard genetic code, `*` = stop). */
export const CODON_TABLE: Readonly<Record<string, string>> = Object.freeze({
  TCA: 'S', TCC: 'S', TCG: 'S', TCT: 'S', TTC: 'F', TTT: 'F', TTA: 'L', TTG: 'L',
  TAC: 'Y', TAT: 'Y', TAA: '*', TAG: '*', TGC: 'C', TGT: 'C', TGA: '*', TGG: 'W',
  CTA: 'L', CTC: 'L', CTG: 'L', CTT: 'L', CCA: 'P', CCC: 'P', CCG: 'P', CCT: 'P',
  CAC: 'H', CAT: 'H', CAA: 'Q', CAG: 'Q', CGA: 'R', CGC: 'R', CGG: 'R', CGT: 'R',
  ATA: 'I', ATC: 'I', ATT: 'I', ATG: 'M', ACA: 'T', ACC: 'T', ACG: 'T', ACT: 'T',
  AAC: 'N', AAT: 'N', AAA: 'K', AAG: 'K', AGC: 'S', AGT: 'S', AGA: 'R', AGG: 'R',
  GTA: 'V', GTC: 'V', GTG: 'V', GTT: 'V', GCA: 'A', GCC: 'A', GCG: 'A', GCT: 'A',
  GAC: 'D', GAT: 'D', GAA: 'E', GAG: 'E', GGA: 'G', GGC: 'G', GGG: 'G', GGT: 'G',
});

/** A kept frame: id `<seqid>F1`..`<seqid>R3`, the nucleotide slice and the protein. */
export interface Frame {
  id: string;
  nucleotide: string;
  protein: string;
}

/** A kept frame as bytes. `nucleotide` and `protein` are views valid until the next call. */
export interface FrameBytes {
  /** 'F1', 'F2', 'F3', 'R1', 'R2' or 'R3'. */
  suffix: string;
  nucleotide: Uint8Array;
  protein: Uint8Array;
}

export const FRAME_SUFFIXES = ['F1', 'F2', 'F3', 'R1', 'R2', 'R3'] as const;

const STAR = 0x2a;
/** Base code: A=0 C=1 G=2 T=3, anything else (including lowercase) 4. */
const BASE = new Uint8Array(256).fill(4);
BASE[0x41] = 0;
BASE[0x43] = 1;
BASE[0x47] = 2;
BASE[0x54] = 3;
/** Amino acid byte for `BASE[b0]*25 + BASE[b1]*5 + BASE[b2]`; 0 = no entry (codon dropped). */
const AMINO = new Uint8Array(125);
for (const [codon, aa] of Object.entries(CODON_TABLE)) {
  AMINO[BASE[codon.charCodeAt(0)] * 25 + BASE[codon.charCodeAt(1)] * 5 + BASE[codon.charCodeAt(2)]] = aa.charCodeAt(0);
}
/** The same with lowercase acgt accepted: `identify_seq(id, seq.upper())` without an upper-cased copy. */
const BASE_ANY_CASE = BASE.slice();
BASE_ANY_CASE[0x61] = 0;
BASE_ANY_CASE[0x63] = 1;
BASE_ANY_CASE[0x67] = 2;
BASE_ANY_CASE[0x74] = 3;
/** Amino acid of the reverse-complement codon: index by the forward bases read right to left. */
const AMINO_RC = new Uint8Array(125);
for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) for (let c = 0; c < 4; c++) AMINO_RC[a * 25 + b * 5 + c] = AMINO[(3 - a) * 25 + (3 - b) * 5 + (3 - c)];
/** ASCII upper-casing table (`str.upper()` on the ASCII the reader accepts). */
const UPPER = new Uint8Array(256);
for (let i = 0; i < 256; i++) UPPER[i] = i >= 0x61 && i <= 0x7a ? i - 0x20 : i;

/** `str.maketrans('ACGTacgt', 'TGCAtgca')`; every other byte maps to itself. */
const COMPLEMENT = new Uint8Array(256);
for (let i = 0; i < 256; i++) COMPLEMENT[i] = i;
for (const [a, b] of [['A', 'T'], ['C', 'G'], ['G', 'C'], ['T', 'A'], ['a', 't'], ['c', 'g'], ['g', 'c'], ['t', 'a']]) {
  COMPLEMENT[a.charCodeAt(0)] = b.charCodeAt(0);
}
/** Complement then upper-case, in one lookup (reverse frames of an upper-cased chunk). */
const COMPLEMENT_UPPER = COMPLEMENT.map((b) => UPPER[b]);

/** Reverse complement into `out` (same length as `seq`). */
export function reverseComplementBytes(seq: Uint8Array, out: Uint8Array): Uint8Array {
  const n = seq.length;
  for (let i = 0; i < n; i++) out[n - 1 - i] = COMPLEMENT[seq[i]];
  return out;
}

// Scratch memory reused across calls (the hot path allocates nothing for a rejected frame).
// Stryker disable next-line ArithmeticOperator: the initial size only; the buffer grows as needed
let nucleotideScratch = new Uint8Array(6 * 1024);
// Stryker disable next-line ArithmeticOperator: the initial size only; the buffer grows as needed
let proteinScratch = new Uint8Array(6 * 342);

/**
 * Stop-codon lookup on raw bytes, for the scan below: `pairs[x | y << 8]` has
 * bit `code(z)` set when the codon x y z (read on the forward strand) is a stop
 * in the frame direction the table is for, and `third[z]` is `1 << code(z)`
 * (0 for a non-ACGT byte). Two loads and an AND per codon, no arithmetic on
 * base codes. Derived from AMINO / AMINO_RC and a base table, so the
 * lowercase rule follows the base table.
 */
interface StopTables {
  forward: Uint8Array;
  reverse: Uint8Array;
  third: Uint8Array;
}

function stopTables(base: Uint8Array): StopTables {
  const forward = new Uint8Array(1 << 16);
  const reverse = new Uint8Array(1 << 16);
  const third = new Uint8Array(256);
  for (let z = 0; z < 256; z++) if (base[z] < 4) third[z] = 1 << base[z];
  for (let x = 0; x < 256; x++) {
    const bx = base[x];
    if (bx > 3) continue;
    for (let y = 0; y < 256; y++) {
      const by = base[y];
      if (by > 3) continue;
      for (let bz = 0; bz < 4; bz++) {
        // Forward frames read x y z; reverse frames read the complement of z y x, which AMINO_RC indexes as z y x.
        if (AMINO[bx * 25 + by * 5 + bz] === STAR) forward[x | (y << 8)] |= 1 << bz;
        if (AMINO_RC[bz * 25 + by * 5 + bx] === STAR) reverse[x | (y << 8)] |= 1 << bz;
      }
    }
  }
  return { forward, reverse, third };
}

const STOPS = stopTables(BASE);
const STOPS_ANY_CASE = stopTables(BASE_ANY_CASE);

/**
 * Bit f (F1, F2, F3, R1, R2, R3) set when that frame of `seq` has no stop
 * codon. Each frame is scanned only up to its first stop: on random sequence
 * that is about 21 codons, so rejecting a frame costs far less than
 * translating it, and most frames are rejected. Whether a frame has a stop
 * does not depend on the dropped (non-ACGT) codons, which only shorten the protein.
 */
function stopFreeFrames(seq: Uint8Array, stops: StopTables): number {
  const n = seq.length;
  const { forward: fwd, reverse: rev, third } = stops;
  let mask = 0;
  // Two codons per step (one branch for both), then the odd one out.
  forward: for (let f = 0; f < 3; f++) {
    let i = f;
    // Stryker disable next-line ArithmeticOperator: reading past the end gives undefined, which is never a stop
    for (; i < n - 5; i += 6) {
      if (((fwd[seq[i] | (seq[i + 1] << 8)] & third[seq[i + 2]]) | (fwd[seq[i + 3] | (seq[i + 4] << 8)] & third[seq[i + 5]])) !== 0) continue forward;
    }
    if (i < n - 2 && (fwd[seq[i] | (seq[i + 1] << 8)] & third[seq[i + 2]]) !== 0) continue;
    mask |= 1 << f;
  }
  reverse: for (let f = 0; f < 3; f++) {
    // Reverse-complement frame f reads rc[f + 3m ...], i.e. the forward bytes seq[n-3-f-3m .. n-1-f-3m].
    let j = n - 1 - f;
    for (; j >= 5; j -= 6) {
      if (((rev[seq[j - 2] | (seq[j - 1] << 8)] & third[seq[j]]) | (rev[seq[j - 5] | (seq[j - 4] << 8)] & third[seq[j - 3]])) !== 0) continue reverse;
    }
    if (j >= 2 && (rev[seq[j - 2] | (seq[j - 1] << 8)] & third[seq[j]]) !== 0) continue;
    mask |= 8 << f;
  }
  return mask;
}

/** Translates forward frame `offset` of `seq` (stops included) into `out` from `at`; returns the protein length. */
function translateForwardFrameInto(seq: Uint8Array, base: Uint8Array, offset: number, out: Uint8Array, at: number): number {
  let p = at;
  const last = seq.length - 2;
  for (let i = offset; i < last; i += 3) {
    const aa = AMINO[base[seq[i]] * 25 + base[seq[i + 1]] * 5 + base[seq[i + 2]]];
    // A codon with a non-ACGT base has no entry (0) and is dropped, as the original's dict lookup does.
    if (aa !== 0) out[p++] = aa;
  }
  return p - at;
}

/** The same for reverse-complement frame `offset`, without building the reverse complement: rc[i] = complement(seq[n-1-i]). */
function translateReverseFrameInto(seq: Uint8Array, base: Uint8Array, offset: number, out: Uint8Array, at: number): number {
  let p = at;
  for (let j = seq.length - 1 - offset; j >= 2; j -= 3) {
    const aa = AMINO_RC[base[seq[j]] * 25 + base[seq[j - 1]] * 5 + base[seq[j - 2]]];
    if (aa !== 0) out[p++] = aa;
  }
  return p - at;
}

/**
 * `identify_seq(seqid, sequence)` followed by the `protein != ''` filter of
 * `make_predictdata`, on bytes. With `upperCase` it behaves as on
 * `sequence.upper()` (what `process_record` passes) without copying the
 * input: lowercase bases translate, and the nucleotide slices come out
 * upper-cased. Returned views point into scratch memory and are overwritten
 * by the next call.
 */
export function identifyFrameBytes(seq: Uint8Array, options: { upperCase?: boolean } = {}): FrameBytes[] {
  const kept: FrameBytes[] = [];
  const upper = options.upperCase ?? false;
  const base = upper ? BASE_ANY_CASE : BASE;
  const mask = seq.length < 3 ? 0 : stopFreeFrames(seq, upper ? STOPS_ANY_CASE : STOPS);
  if (mask === 0) return kept;
  const maxProtein = Math.floor(seq.length / 3) + 1;
  if (proteinScratch.length < 6 * maxProtein) proteinScratch = new Uint8Array(12 * maxProtein);
  const protein = proteinScratch;
  for (let f = 0; f < 6; f++) {
    if ((mask & (1 << f)) === 0) continue;
    const at = f * maxProtein;
    const len = f < 3 ? translateForwardFrameInto(seq, base, f, protein, at) : translateReverseFrameInto(seq, base, f - 3, protein, at);
    if (len === 0) continue;
    kept.push({ suffix: FRAME_SUFFIXES[f], nucleotide: frameNucleotides(seq, f, len, upper), protein: protein.subarray(at, at + len) });
  }
  return kept;
}

/**
 * The nucleotides the original keeps for a frame with a protein of `len`:
 * `seq[num-1 : num + 3*len]` with num = offset + 1, on the reverse complement
 * for R frames; Python clamps the end. Written into scratch slot `f`.
 */
function frameNucleotides(seq: Uint8Array, f: number, len: number, upper: boolean): Uint8Array {
  const n = seq.length;
  const offset = f % 3;
  if (nucleotideScratch.length < 6 * (n + 1)) nucleotideScratch = new Uint8Array(12 * (n + 1));
  const end = Math.min(n, offset + 1 + 3 * len);
  const nt = nucleotideScratch.subarray(f * (n + 1), f * (n + 1) + end - offset);
  if (f >= 3) {
    const table = upper ? COMPLEMENT_UPPER : COMPLEMENT;
    for (let i = offset; i < end; i++) nt[i - offset] = table[seq[n - 1 - i]];
  } else if (upper) {
    upperCaseInto(seq.subarray(offset, end), nt);
  } else {
    nt.set(seq.subarray(offset, end));
  }
  return nt;
}

/**
 * ASCII upper-casing of `from` into `to`, four bytes per step: in each byte of
 * a 32-bit word, bit 7 of `(b & 0x7f) + 0x1f` says b >= 'a' and of
 * `(b & 0x7f) + 0x05` says b > 'z' (no carry crosses a byte); bytes >= 0x80 are
 * left alone, as UPPER leaves them.
 */
function upperCaseInto(from: Uint8Array, to: Uint8Array): void {
  const n = from.length;
  const src = new DataView(from.buffer, from.byteOffset, n);
  const dst = new DataView(to.buffer, to.byteOffset, n);
  let i = 0;
  // Stryker disable next-line ConditionalExpression: without the word loop the byte loop below does it all (speed only)
  for (; i + 4 <= n; i += 4) {
    const w = src.getUint32(i, true);
    const low7 = w & 0x7f7f7f7f;
    const lower = (low7 + 0x1f1f1f1f) & ~(low7 + 0x05050505) & ~w & 0x80808080;
    dst.setUint32(i, (w ^ (lower >>> 2)) >>> 0, true);
  }
  for (; i < n; i++) to[i] = UPPER[from[i]];
}

const latin1 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
const bytesOf = (s: string) => Buffer.from(s, 'latin1');

export function reverseComplement(seq: string): string {
  const b = bytesOf(seq);
  return latin1(reverseComplementBytes(b, new Uint8Array(b.length)));
}

/** `units.translate_dna`: the six proteins (F1, F2, F3, R1, R2, R3), stops included. */
export function translateSixFrames(seq: string): string[] {
  const b = bytesOf(seq);
  const out = new Uint8Array(Math.floor(b.length / 3) + 1);
  const frames: string[] = [];
  for (let f = 0; f < 6; f++) {
    const len = f < 3 ? translateForwardFrameInto(b, BASE, f, out, 0) : translateReverseFrameInto(b, BASE, f - 3, out, 0);
    frames.push(latin1(out.subarray(0, len)));
  }
  return frames;
}

/** `identify_seq(seqid, sequence)` keeping only non-empty proteins, in the original's order. */
export function identifyFrames(seqid: string, sequence: string): Frame[] {
  return identifyFrameBytes(bytesOf(sequence)).map((f) => ({
    id: seqid + f.suffix,
    nucleotide: latin1(f.nucleotide),
    protein: latin1(f.protein),
  }));
}
