/**
 * Sorting more lines than memory should hold: lines are buffered, sorted and
 * spilled to temporary run files, then merged. Used for the per-chunk verdict
 * file, which the original sorts by ID across the whole input.
 *
 * Memory holds at most `maxInMemory` lines (V8 keeps a sorted array of strings
 * far larger than its text, so the default is modest), and at most MAX_FAN_IN
 * runs exist at once: when that many pile up they are merged into one, so any
 * input size needs a bounded number of open files.
 *
 * Lines must not contain '\n'. The sort is stable (ties keep insertion order),
 * which matches pandas' stable sort of group keys.
 */
import { createReadStream } from 'node:fs';
import { writeFile, rm, mkdtemp } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { AtomicFileWriter } from '../util/atomic.js';

export type LineComparator = (a: string, b: string) => number;

interface Entry {
  key: string;
  line: string;
  seq: number;
}

const MAX_FAN_IN = 64;

export class ExternalSorter {
  private buffer: Entry[] = [];
  private runs: string[] = [];
  private runCounter = 0;
  private seq = 0;
  private tmpDir: string | null = null;

  constructor(
    private readonly workDir: string,
    private readonly compare: LineComparator,
    /** Lines kept in memory before a run is spilled to disk. */
    private readonly maxInMemory = 25_000,
  ) {}

  async add(key: string, line: string): Promise<void> {
    this.buffer.push({ key, line, seq: this.seq++ });
    if (this.buffer.length >= this.maxInMemory) await this.spill();
  }

  private before(a: Entry, b: Entry): boolean {
    const c = this.compare(a.key, b.key);
    return c < 0 || (c === 0 && a.seq < b.seq);
  }

  private async newRunPath(): Promise<string> {
    this.tmpDir ??= await mkdtemp(join(this.workDir, 'sort-'));
    return join(this.tmpDir, `run-${this.runCounter++}.txt`);
  }

  private async spill(): Promise<void> {
    const path = await this.newRunPath();
    // key \t seq \t line per row, so the merge can compare and break ties without re-parsing.
    const text = this.buffer
      .sort((a, b) => this.compare(a.key, b.key) || a.seq - b.seq)
      .map((e) => `${e.key}\t${e.seq}\t${e.line}\n`)
      .join('');
    await writeFile(path, text);
    this.runs.push(path);
    this.buffer = [];
    if (this.runs.length >= MAX_FAN_IN) {
      // Merge the pile into one run (entries keep their seq, so stability holds).
      const merged = await this.newRunPath();
      const out = new AtomicFileWriter(merged);
      for await (const e of this.merge(this.runs)) out.write(`${e.key}\t${e.seq}\t${e.line}\n`);
      out.commit();
      await Promise.all(this.runs.map((p) => rm(p, { force: true })));
      this.runs = [merged];
    }
  }

  /** k-way merge of sorted run files (k <= MAX_FAN_IN, so a linear scan for the minimum is fine). */
  private async *merge(paths: string[]): AsyncGenerator<Entry> {
    const readers = paths.map((p) => createInterface({ input: createReadStream(p), crlfDelay: Infinity })[Symbol.asyncIterator]());
    const next = async (i: number): Promise<Entry | null> => {
      const r = await readers[i].next();
      if (r.done) return null;
      const t1 = r.value.indexOf('\t');
      const t2 = r.value.indexOf('\t', t1 + 1);
      return { key: r.value.slice(0, t1), seq: Number(r.value.slice(t1 + 1, t2)), line: r.value.slice(t2 + 1) };
    };
    const heads = await Promise.all(readers.map((_, i) => next(i)));
    for (;;) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const h = heads[i];
        if (h !== null && (best < 0 || this.before(h, heads[best]!))) best = i;
      }
      if (best < 0) return;
      yield heads[best]!;
      heads[best] = await next(best);
    }
  }

  /** Yields every line in sorted order, then removes the temporary files. */
  async *sorted(): AsyncGenerator<string> {
    if (this.runs.length === 0) {
      this.buffer.sort((a, b) => this.compare(a.key, b.key) || a.seq - b.seq);
      for (const e of this.buffer) yield e.line;
      this.buffer = [];
      return;
    }
    try {
      if (this.buffer.length > 0) await this.spill();
      for await (const e of this.merge(this.runs)) yield e.line;
    } finally {
      if (this.tmpDir) await rm(this.tmpDir, { recursive: true, force: true });
    }
  }
}
