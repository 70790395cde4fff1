/**
 * Sorting more lines than memory should hold: lines are buffered, sorted and
 * spilled to temporary run files, then merged. Used for the per-chunk verdict
 * file, which the original sorts by ID across the whole input.
 *
 * Lines must not contain '\n'. The sort is stable (ties keep insertion order),
 * which matches pandas' stable sort of group keys.
 */
import { createReadStream } from 'node:fs';
import { writeFile, rm, mkdtemp } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join } from 'node:path';

export type LineComparator = (a: string, b: string) => number;

interface Entry {
  key: string;
  line: string;
  seq: number;
}

export class ExternalSorter {
  private buffer: Entry[] = [];
  private runs: string[] = [];
  private seq = 0;
  private tmpDir: string | null = null;

  constructor(
    private readonly workDir: string,
    private readonly compare: LineComparator,
    /** Lines kept in memory before a run is spilled to disk. */
    private readonly maxInMemory = 200_000,
  ) {}

  async add(key: string, line: string): Promise<void> {
    this.buffer.push({ key, line, seq: this.seq++ });
    if (this.buffer.length >= this.maxInMemory) await this.spill();
  }

  private sortBuffer(): Entry[] {
    return this.buffer.sort((a, b) => this.compare(a.key, b.key) || a.seq - b.seq);
  }

  private async spill(): Promise<void> {
    this.tmpDir ??= await mkdtemp(join(this.workDir, 'sort-'));
    const path = join(this.tmpDir, `run-${this.runs.length}.txt`);
    // key \t seq \t line per row, so the merge can compare and break ties without re-parsing.
    const text = this.sortBuffer()
      .map((e) => `${e.key}\t${e.seq}\t${e.line}\n`)
      .join('');
    await writeFile(path, text);
    this.runs.push(path);
    this.buffer = [];
  }

  /** Yields every line in sorted order, then removes the temporary files. */
  async *sorted(): AsyncGenerator<string> {
    if (this.runs.length === 0) {
      for (const e of this.sortBuffer()) yield e.line;
      this.buffer = [];
      return;
    }
    if (this.buffer.length > 0) await this.spill();
    const readers = this.runs.map((p) => createInterface({ input: createReadStream(p), crlfDelay: Infinity })[Symbol.asyncIterator]());
    const heads: Array<Entry | null> = [];
    const next = async (i: number): Promise<Entry | null> => {
      const r = await readers[i].next();
      if (r.done) return null;
      const t1 = r.value.indexOf('\t');
      const t2 = r.value.indexOf('\t', t1 + 1);
      return { key: r.value.slice(0, t1), seq: Number(r.value.slice(t1 + 1, t2)), line: r.value.slice(t2 + 1) };
    };
    for (let i = 0; i < readers.length; i++) heads.push(await next(i));
    try {
      // Few runs (one per 200k lines), so a linear scan for the minimum is fine.
      for (;;) {
        let best = -1;
        for (let i = 0; i < heads.length; i++) {
          const h = heads[i];
          if (h === null) continue;
          const b = best < 0 ? null : heads[best]!;
          if (b === null || this.compare(h.key, b.key) < 0 || (this.compare(h.key, b.key) === 0 && h.seq < b.seq)) best = i;
        }
        if (best < 0) break;
        yield heads[best]!.line;
        heads[best] = await next(best);
      }
    } finally {
      if (this.tmpDir) await rm(this.tmpDir, { recursive: true, force: true });
    }
  }
}
