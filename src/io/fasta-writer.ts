/**
 * FASTA output as Biopython's `SeqIO.write(record, handle, 'fasta')` writes it
 * (60 residues per line, header from id and description), or one line per
 * sequence as VirNucPro's hand-written `>{id}\n{seq}\n` files.
 *
 * Output goes through `AtomicFileWriter`: the file appears under its final
 * name only on `commit()`, so a failed run never leaves a complete-looking
 * FASTA. Records are encoded into large byte blocks (no per-line strings).
 *
 * Public API:
 * - `fastaTitle(id, description?): string` — Biopython's header rule.
 * - `class FastaWriter(path, { lineWidth = 60 })` — `lineWidth: 0` = single line;
 *   `write(title, sequence: Uint8Array | string)`, `commit()`, `abort()`, `records`.
 */
import { AtomicFileWriter } from '../util/atomic.js';
import { pythonFirstWord } from './python-text.js';

/**
 * Biopython's title: the description alone when it starts with the id,
 * `id description` otherwise, the id when there is no description.
 */
export function fastaTitle(id: string, description = ''): string {
  const clean = (s: string) => s.replace(/[\r\n]/g, ' ');
  const cid = clean(id);
  const cdesc = clean(description);
  if (cdesc && pythonFirstWord(cdesc) === cid) return cdesc;
  return cdesc ? `${cid} ${cdesc}` : cid;
}

const BLOCK = 1 << 20;

export class FastaWriter {
  private readonly out: AtomicFileWriter;
  private readonly lineWidth: number;
  private buf: Buffer = Buffer.allocUnsafe(BLOCK);
  private bufWords: DataView = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  private used = 0;
  /** Number of records written so far. */
  records = 0;

  constructor(
    readonly path: string,
    options: { lineWidth?: number } = {},
  ) {
    this.lineWidth = options.lineWidth ?? 60;
    this.out = new AtomicFileWriter(path);
  }

  /** Writes `>title` and the sequence (ASCII), wrapped to the line width. */
  write(title: string, sequence: Uint8Array | string): void {
    const seq = typeof sequence === 'string' ? Buffer.from(sequence, 'latin1') : sequence;
    const width = this.lineWidth > 0 ? this.lineWidth : Math.max(seq.length, 1);
    const lines = Math.ceil(seq.length / width);
    // Worst case for the title: 3 UTF-8 bytes per UTF-16 unit.
    this.reserve(title.length * 3 + 2 + seq.length + lines + 1);
    const buf = this.buf;
    let p = this.used;
    buf[p++] = 0x3e;
    p = this.putTitle(title, p);
    buf[p++] = 0x0a;
    if (this.lineWidth > 0 && seq.length > width) {
      p = this.putWrapped(seq, width, p);
    } else if (this.lineWidth > 0 && seq.length === 0) {
      // Biopython writes no sequence line at all for an empty sequence.
    } else {
      buf.set(seq, p);
      p += seq.length;
      buf[p++] = 0x0a;
    }
    this.used = p;
    this.records++;
  }

  /** The title at `p`: ASCII (the usual case) byte by byte, anything else through the UTF-8 encoder. */
  private putTitle(title: string, p: number): number {
    const buf = this.buf;
    const n = title.length;
    for (let k = 0; k < n; k++) {
      const c = title.charCodeAt(k);
      if (c >= 0x80) return p + buf.write(title, p, 'utf8'); // rewrites the ASCII part too
      buf[p + k] = c;
    }
    return p + n;
  }

  /**
   * `seq` as lines of `width` at `p`, copied four bytes at a time through
   * DataViews: a 60-column FASTA has a line every 60 bytes, and a typed-array
   * view per line (for `set`) costs more than the copy itself.
   */
  private putWrapped(seq: Uint8Array, width: number, p: number): number {
    const buf = this.buf;
    const to = this.bufWords;
    const from = new DataView(seq.buffer, seq.byteOffset, seq.byteLength);
    const n = seq.length;
    for (let i = 0; i < n; i += width) {
      const end = Math.min(n, i + width);
      let k = i;
      for (; k + 4 <= end; k += 4, p += 4) to.setUint32(p, from.getUint32(k, true), true);
      for (; k < end; k++) buf[p++] = seq[k];
      buf[p++] = 0x0a;
    }
    return p;
  }

  private reserve(bytes: number): void {
    if (this.used + bytes <= this.buf.length) return;
    this.flush();
    if (bytes > this.buf.length) this.setBlock(Buffer.allocUnsafe(bytes));
  }

  private setBlock(block: Buffer): void {
    this.buf = block;
    this.bufWords = new DataView(block.buffer, block.byteOffset, block.byteLength);
  }

  private flush(): void {
    if (this.used === 0) return;
    // AtomicFileWriter may keep a reference to the block until it flushes: hand it over and start a new one.
    this.out.write(this.buf.subarray(0, this.used));
    this.setBlock(Buffer.allocUnsafe(BLOCK));
    this.used = 0;
  }

  commit(): void {
    this.flush();
    this.out.commit();
  }

  abort(): void {
    this.out.abort();
  }
}
