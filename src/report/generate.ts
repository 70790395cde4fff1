/**
 * report.html from a finished run's output directory: run.json, summary.tsv,
 * prediction_results.txt, gpu_metrics.log and work/units.jsonl, each read as a
 * stream, so that the time and memory it takes stay small for millions of
 * records (bench/report.bench.ts measures it; docs/benchmarks.md has the
 * figures). predict writes it with its other outputs; `virnucpro report`
 * writes it again from the files.
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AtomicFileWriter } from '../util/atomic.js';
import { InputError } from '../util/errors.js';
import { regularFileSize } from '../util/fs.js';
import { readMetricsSeries } from './metrics-series.js';
import { pageChunks } from './page.js';
import { scanRecords } from './records.js';
import { readTimeline, UNIT_LOG_NAME } from './unit-events.js';

export const REPORT_FILE = 'report.html';

/** The files of an output directory the report reads (names as predict writes them). */
const FILES = {
  runJson: 'run.json',
  summary: 'summary.tsv',
  predictions: 'prediction_results.txt',
  metrics: 'gpu_metrics.log',
  unitLog: join('work', UNIT_LOG_NAME),
} as const;

/** How many records the table holds (the best by score); the search covers every record. */
export const TOP_RECORDS = 1000;

export interface ReportOptions {
  outDir: string;
  /** Default `<outDir>/report.html`. */
  output?: string;
  topRecords?: number;
}

export interface ReportResult {
  path: string;
  bytes: number;
  records: number;
}

const HINT = 'give the output directory of a finished `virnucpro predict` run (it holds run.json and summary.tsv)';

async function readRunJson(outDir: string): Promise<Record<string, unknown>> {
  const path = join(outDir, FILES.runJson);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(`${path} is missing: ${outDir} holds no finished virnucpro run`, { hint: HINT });
    throw new InputError(`${path}: cannot read it (${code ?? (e as Error).message})`, { hint: HINT });
  }
  let run: unknown;
  try {
    run = JSON.parse(text);
  } catch {
    throw new InputError(`${path} is not valid JSON (damaged or cut short)`, { hint: 'run predict again (or with --resume) to rewrite it' });
  }
  if (typeof run !== 'object' || run === null || Array.isArray(run)) throw new InputError(`${path} is not a run.json of virnucpro (not a JSON object)`, { hint: HINT });
  const r = run as Record<string, unknown>;
  if (r.complete === false) {
    throw new InputError(`${path} says the run is incomplete: it wrote no results to report`, {
      hint: `finish it with the same predict command plus --resume -o ${outDir}`,
    });
  }
  return r;
}

export async function writeReport(o: ReportOptions): Promise<ReportResult> {
  const info = await stat(o.outDir).catch(() => undefined);
  if (!info) throw new InputError(`${o.outDir}: no such directory`, { hint: HINT });
  if (!info.isDirectory()) throw new InputError(`${o.outDir} is not a directory`, { hint: HINT });
  const run = await readRunJson(o.outDir);
  const summaryPath = join(o.outDir, FILES.summary);
  if ((await regularFileSize(summaryPath)) === undefined) {
    throw new InputError(`${summaryPath} is missing: the run wrote no per-record summary`, { hint: HINT });
  }
  const predictionsPath = join(o.outDir, FILES.predictions);
  const hasPredictions = (await regularFileSize(predictionsPath)) !== undefined;
  const { stats, indexColumns } = await scanRecords({
    summaryPath,
    predictionsPath: hasPredictions ? predictionsPath : null,
    topLimit: o.topRecords ?? TOP_RECORDS,
  });
  const { notes, ...records } = stats;
  const metrics = (await regularFileSize(join(o.outDir, FILES.metrics))) === undefined ? null : await readMetricsSeries(join(o.outDir, FILES.metrics));
  const timeline = await readTimeline(join(o.outDir, FILES.unitLog));
  if (!timeline) notes.push(`no unit log (${FILES.unitLog}): the device timeline is empty (the log is removed with work/, or the run computed nothing new)`);
  const counted = (run.counts as { records?: unknown } | undefined)?.records;
  if (typeof counted === 'number' && counted !== records.total) {
    notes.push(`summary.tsv has ${records.total} records, run.json counts ${counted}: the files may come from different runs`);
  }
  const path = o.output ?? join(o.outDir, REPORT_FILE);
  await mkdir(dirname(path), { recursive: true });
  const out = new AtomicFileWriter(path);
  let bytes = 0;
  try {
    for (const chunk of pageChunks({ mode: 'report', generatedAt: new Date().toISOString(), run, records, timeline, metrics, notes }, indexColumns)) {
      out.write(chunk);
      bytes += Buffer.byteLength(chunk);
    }
    out.commit();
  } catch (e) {
    out.abort();
    throw e;
  }
  return { path, bytes, records: records.total };
}
