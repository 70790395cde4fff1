/**
 * Pull-based line reading of a text file, so that two files written in the same
 * order (summary.tsv and prediction_results.txt) can be walked in lockstep.
 * Memory holds one read chunk; lines come out without their `\n` (a `\r`
 * before it is dropped too), and `lineNumber` says where the last one was.
 */
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

export class LineReader {
  private readonly chunks: AsyncIterator<Buffer>;
  private readonly decoder = new StringDecoder('utf8');
  private lines: string[] = [];
  private next_ = 0;
  private carry = '';
  private ended = false;
  /** 1-based number of the line last returned by next(). */
  lineNumber = 0;

  constructor(readonly path: string) {
    this.chunks = (createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  /** The next line, or undefined at the end of the file. */
  async next(): Promise<string | undefined> {
    while (this.next_ >= this.lines.length) {
      if (this.ended) return undefined;
      await this.fill();
    }
    this.lineNumber++;
    const line = this.lines[this.next_++];
    return line.endsWith('\r') ? line.slice(0, -1) : line;
  }

  /** Stops reading (closes the file) before its end. */
  async close(): Promise<void> {
    this.ended = true;
    await this.chunks.return?.();
  }

  private async fill(): Promise<void> {
    const r = await this.chunks.next();
    this.next_ = 0;
    if (r.done) {
      this.ended = true;
      const rest = this.carry + this.decoder.end();
      this.lines = rest === '' ? [] : [rest];
      this.carry = '';
      return;
    }
    const lines = (this.carry + this.decoder.write(r.value)).split('\n');
    this.carry = lines.pop()!;
    this.lines = lines;
  }
}
