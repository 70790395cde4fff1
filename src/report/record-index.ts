/**
 * The compact index of every record that the report's search box reads: a few
 * columns, each a byte stream compressed with gzip as it is filled (memory holds
 * the compressed bytes only), decoded in the browser with DecompressionStream.
 *
 *   ids          UTF-8 record IDs, each followed by `\n`
 *   lengths      unsigned LEB128 varint per record
 *   verdicts     one byte per record: index into `verdictNames`
 *   chunkCounts  unsigned LEB128 varint per record: chunks along the sequence
 *   chunkScores  per chunk, uint16 little-endian: round(score * 65534), 65535 = chunk not scored
 *
 * A record's highest virus score is the highest of its chunk scores, so it is not
 * stored twice. The page (assets/report/report.js, loadIndex) reads the same layout, each
 * column from its own <script id="index-NAME"> element in base64 (page.ts writes them).
 */
import { once } from 'node:events';
import { createGzip, type Gzip } from 'node:zlib';

export const NOT_SCORED_U16 = 0xffff;
const SCORE_SCALE = 0xfffe;
const STAGING_BYTES = 1 << 18;

/** One column: bytes staged in a buffer, then compressed by a gzip stream. */
class CompressedColumn {
  private readonly gzip: Gzip = createGzip({ level: 6 });
  private readonly out: Buffer[] = [];
  private staging = Buffer.allocUnsafe(STAGING_BYTES);
  private used = 0;
  rawBytes = 0;

  constructor() {
    this.gzip.on('data', (b: Buffer) => this.out.push(b));
  }

  /** Room for `n` more bytes in the staging buffer, compressing what is there when full. */
  async reserve(n: number): Promise<void> {
    if (this.used + n <= this.staging.length) return;
    await this.flush();
    if (n > this.staging.length) this.staging = Buffer.allocUnsafe(n);
  }

  byte(x: number): void {
    this.staging[this.used++] = x;
    this.rawBytes++;
  }

  u16(x: number): void {
    this.staging.writeUInt16LE(x, this.used);
    this.used += 2;
    this.rawBytes += 2;
  }

  varint(x: number): void {
    let v = x;
    while (v >= 0x80) {
      this.byte((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    this.byte(v);
  }

  text(s: string): void {
    const n = this.staging.write(s, this.used, 'utf8');
    this.used += n;
    this.rawBytes += n;
  }

  private async flush(): Promise<void> {
    if (this.used === 0) return;
    const full = this.staging.subarray(0, this.used);
    this.staging = Buffer.allocUnsafe(this.staging.length);
    this.used = 0;
    if (!this.gzip.write(full)) await once(this.gzip, 'drain');
  }

  async finish(): Promise<Buffer> {
    await this.flush();
    const ended = once(this.gzip, 'end');
    this.gzip.end();
    await ended;
    return Buffer.concat(this.out);
  }
}

export interface IndexedRecord {
  id: string;
  length: number;
  verdict: string;
  /** Highest virus score of each chunk along the sequence; NaN where no frame was scored. */
  chunkScores: ArrayLike<number>;
}

export const INDEX_COLUMNS = ['ids', 'lengths', 'verdicts', 'chunkCounts', 'chunkScores'] as const;
export type IndexColumn = (typeof INDEX_COLUMNS)[number];

/** What the page's JSON says of the index; the columns themselves travel apart (see the module comment). */
export interface RecordIndexInfo {
  encoding: 'gzip';
  records: number;
  verdictNames: string[];
  /** Bytes before and after compression. */
  rawBytes: number;
  compressedBytes: number;
}

export interface EncodedRecordIndex {
  info: RecordIndexInfo;
  columns: Record<IndexColumn, Buffer>;
}

export class RecordIndexWriter {
  private readonly ids = new CompressedColumn();
  private readonly lengths = new CompressedColumn();
  private readonly verdicts = new CompressedColumn();
  private readonly chunkCounts = new CompressedColumn();
  private readonly chunkScores = new CompressedColumn();
  private readonly verdictCodes = new Map<string, number>();
  records = 0;

  async add(r: IndexedRecord): Promise<void> {
    let code = this.verdictCodes.get(r.verdict);
    if (code === undefined) {
      // More than 255 distinct verdicts is not a summary.tsv of ours; they share the last code.
      code = Math.min(this.verdictCodes.size, 255);
      this.verdictCodes.set(r.verdict, code);
    }
    const id = r.id.replace(/\n/g, ' ');
    await this.ids.reserve(Buffer.byteLength(id) + 1);
    this.ids.text(id);
    this.ids.byte(0x0a);
    await this.lengths.reserve(10);
    this.lengths.varint(r.length);
    await this.verdicts.reserve(1);
    this.verdicts.byte(code);
    await this.chunkCounts.reserve(10);
    this.chunkCounts.varint(r.chunkScores.length);
    await this.chunkScores.reserve(2 * r.chunkScores.length);
    for (let i = 0; i < r.chunkScores.length; i++) {
      const s = r.chunkScores[i];
      this.chunkScores.u16(Number.isNaN(s) ? NOT_SCORED_U16 : Math.round(Math.min(1, Math.max(0, s)) * SCORE_SCALE));
    }
    this.records++;
  }

  async finish(): Promise<EncodedRecordIndex> {
    const cols = { ids: this.ids, lengths: this.lengths, verdicts: this.verdicts, chunkCounts: this.chunkCounts, chunkScores: this.chunkScores };
    const done = await Promise.all(INDEX_COLUMNS.map((name) => cols[name].finish()));
    const columns = Object.fromEntries(INDEX_COLUMNS.map((name, i) => [name, done[i]])) as Record<IndexColumn, Buffer>;
    return {
      info: {
        encoding: 'gzip',
        records: this.records,
        verdictNames: [...this.verdictCodes.keys()],
        rawBytes: INDEX_COLUMNS.reduce((a, name) => a + cols[name].rawBytes, 0),
        compressedBytes: done.reduce((a, b) => a + b.byteLength, 0),
      },
      columns,
    };
  }
}
