/**
 * Final outputs of a `predict` run, streamed from the finished shards in input
 * order (memory holds one shard at a time; the per-chunk verdicts are sorted
 * with an external sort):
 *
 * - `prediction_results.txt`: the original's rows, order and formatting;
 * - `prediction_results_highestscore.csv`: the original's per-chunk verdicts
 *   (grouped by ID minus its 2-character frame suffix, sorted as pandas sorts);
 * - `summary.tsv`: one row per input record, in input order (ours);
 * - `embeddings/` with --save-embeddings: each shard's result file and its frame ids.
 *
 * Every file is written under a temporary name and renamed when complete. The
 * work files are checked as they are read (records.tsv: row numbers, count and
 * sha256; each shard input: its sha256), so damage stops the run before any
 * output is committed instead of dropping rows. A record's frames may span any
 * number of shards: the running record and chunk group carry over shard ends.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import {
  comparePythonStrings,
  formatHighestScoreRow,
  formatNumpyFloat32,
  HIGHEST_SCORE_HEADER,
  modifiedId,
  PredictionResultsWriter,
} from '../io/results.js';
import { AtomicFileWriter } from '../util/atomic.js';
import { holdPoint } from '../util/test-hold.js';
import { ExternalSorter } from './external-sort.js';
import { parseRecordRow, RECORDS_HEADER, type RecordRow } from './plan.js';
import { readCheckedShardInput, readShardResult, shardInputName, shardResultName } from './shard-files.js';
import { workFolderDamaged, type RecordsFile, type RunPlan, type WorkDir } from './workdir.js';

export const OUTPUT_FILES = {
  predictions: 'prediction_results.txt',
  highestScore: 'prediction_results_highestscore.csv',
  summary: 'summary.tsv',
  embeddings: 'embeddings',
} as const;

export const SUMMARY_HEADER = 'id\tlength\tchunks\tframes_scored\tmax_virus_score\tverdict\tstatus';

export interface FinalizeOptions {
  plan: RunPlan;
  workDir: WorkDir;
  outDir: string;
  /** A record is called `virus` when its highest virus score (score2) exceeds this. */
  minScore: number;
  saveEmbeddings: boolean;
  /** A line written first in every text output (demo models). */
  banner?: string;
}

export interface FinalizeCounts {
  rows: number;
  chunkVerdicts: number;
  virusChunks: number;
  virusRecords: number;
}

interface RecordAcc {
  row: RecordRow;
  scored: number;
  maxVirus: number;
}

/**
 * Streams records.tsv in order, checking it against plan.json as it goes: rows
 * numbered 0, 1, 2, ... and, at the end, the row count and the sha256 of the
 * bytes read. A damaged file throws (the outputs are then not committed), so a
 * missing row can never silently drop a record from summary.tsv.
 */
async function* readRecords(workDir: WorkDir, expect: RecordsFile): AsyncGenerator<RecordRow> {
  const damaged = (what: string) => workFolderDamaged(workDir.dir, `records.tsv ${what}`);
  const hash = createHash('sha256');
  const text = new StringDecoder('utf8');
  let carry = '';
  let header = true;
  let rows = 0;
  const parse = function* (lines: string[]): Generator<RecordRow> {
    for (const line of lines) {
      if (header) {
        if (line !== RECORDS_HEADER) throw damaged('does not start with its header line');
        header = false;
        continue;
      }
      const row = parseRecordRow(line);
      if (row.index !== rows) throw damaged(`has record ${line.split('\t')[0]} where record ${rows} belongs`);
      rows++;
      yield row;
    }
  };
  try {
    for await (const chunk of createReadStream(workDir.recordsPath) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      const lines = (carry + text.write(chunk)).split('\n');
      carry = lines.pop()!;
      yield* parse(lines);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw damaged('is missing');
    throw e;
  }
  carry += text.end();
  if (carry !== '') throw damaged('does not end with a line break (truncated)');
  if (rows !== expect.rows) throw damaged(`has ${rows} records, the plan has ${expect.rows}`);
  if (hash.digest('hex') !== expect.sha256) throw damaged('was modified since it was planned (checksum mismatch)');
}

function summaryLine(acc: RecordAcc, minScore: number): string {
  const r = acc.row;
  const scored = acc.scored > 0;
  const verdict = !scored ? 'not_scored' : acc.maxVirus > minScore ? 'virus' : 'non_virus';
  const score = scored ? formatNumpyFloat32(acc.maxVirus) : 'NA';
  return `${r.id}\t${r.length}\t${r.chunks}\t${acc.scored}\t${score}\t${verdict}\t${r.status}`;
}

export async function writeOutputs(o: FinalizeOptions): Promise<FinalizeCounts> {
  const { plan, workDir, outDir } = o;
  const counts: FinalizeCounts = { rows: 0, chunkVerdicts: 0, virusChunks: 0, virusRecords: 0 };
  const predictions = new PredictionResultsWriter(join(outDir, OUTPUT_FILES.predictions), o.banner);
  const summary = new AtomicFileWriter(join(outDir, OUTPUT_FILES.summary));
  const highest = new AtomicFileWriter(join(outDir, OUTPUT_FILES.highestScore));
  const writers = [predictions, summary, highest];
  if (o.banner) {
    summary.write(`# ${o.banner}\n`);
    highest.write(`# ${o.banner}\n`);
  }
  summary.write(`${SUMMARY_HEADER}\n`);
  const sorter = new ExternalSorter(workDir.dir, comparePythonStrings);
  const records = readRecords(workDir, plan.recordsFile);
  let current: RecordAcc | null = null;

  const finishRecord = (): void => {
    if (!current) return;
    if (current.scored > 0 && current.maxVirus > o.minScore) counts.virusRecords++;
    summary.write(`${summaryLine(current, o.minScore)}\n`);
    current = null;
  };
  /** Writes every record before `index` (records without frames included) and makes `index` current. */
  const advanceTo = async (index: number): Promise<RecordAcc> => {
    while (!current || current.row.index < index) {
      finishRecord();
      const next = await records.next();
      if (next.done) throw workFolderDamaged(workDir.dir, `records.tsv ends before record ${index}`);
      current = { row: next.value, scored: 0, maxVirus: -Infinity };
    }
    return current;
  };

  // The running chunk group; pandas compares the scores it parsed back from the text file.
  let group: { key: string; max1: number; max2: number } | null = null;
  const flushGroup = async (): Promise<void> => {
    if (group) await sorter.add(group.key, `${group.key}\t${group.max1}\t${group.max2}`);
    group = null;
  };

  try {
    if (o.saveEmbeddings) await mkdir(join(outDir, OUTPUT_FILES.embeddings), { recursive: true });
    for (const shard of plan.shards) {
      const input = await readCheckedShardInput(workDir.path(shardInputName(shard.index)), shard.inputSha256);
      if (!input.ok) throw workFolderDamaged(workDir.dir, `${shardInputName(shard.index)} ${input.reason}`);
      const frames = input.frames;
      const resultPath = workDir.path(shardResultName(shard.index));
      const check = await readShardResult(resultPath, { shard: shard.index, frames: shard.frames });
      if (!check.ok) throw workFolderDamaged(workDir.dir, `${shardResultName(shard.index)} is not a valid result (${check.reason})`);
      const probs = check.result.probabilities;
      const classes = check.result.classes;
      for (let i = 0; i < frames.length; i++) {
        const f = frames[i];
        const score1 = probs[i * classes];
        const score2 = probs[i * classes + 1];
        const text1 = formatNumpyFloat32(score1);
        const text2 = formatNumpyFloat32(score2);
        predictions.writeFormatted({ id: f.id, score1, score2 }, text1, text2);
        counts.rows++;
        const rec = await advanceTo(f.recordIndex);
        rec.scored++;
        if (score2 > rec.maxVirus) rec.maxVirus = score2;
        const key = modifiedId(f.id);
        const s1 = Number(text1);
        const s2 = Number(text2);
        if (group && group.key === key) {
          group.max1 = Math.max(group.max1, s1);
          group.max2 = Math.max(group.max2, s2);
        } else {
          await flushGroup();
          group = { key, max1: s1, max2: s2 };
        }
      }
      if (o.saveEmbeddings) await exportEmbeddings(o, shard.index, resultPath, frames.map((f) => f.id));
    }
    await flushGroup();
    // Records after the last frame (or all of them, when nothing was scored).
    finishRecord();
    for (let next = await records.next(); !next.done; next = await records.next()) {
      current = { row: next.value, scored: 0, maxVirus: -Infinity };
      finishRecord();
    }

    await holdPoint('outputs');
    highest.write(`${HIGHEST_SCORE_HEADER}\n`);
    // Equal keys are adjacent after sorting; merge them as pandas' groupby would.
    let pending: { key: string; max1: number; max2: number } | null = null;
    const emit = (): void => {
      if (!pending) return;
      const isVirus = pending.max2 >= pending.max1;
      counts.chunkVerdicts++;
      if (isVirus) counts.virusChunks++;
      highest.write(`${formatHighestScoreRow({ modifiedId: pending.key, isVirus })}\n`);
    };
    for await (const line of sorter.sorted()) {
      const [key, a, b] = line.split('\t');
      const max1 = Number(a);
      const max2 = Number(b);
      if (pending && pending.key === key) {
        pending.max1 = Math.max(pending.max1, max1);
        pending.max2 = Math.max(pending.max2, max2);
      } else {
        emit();
        pending = { key, max1, max2 };
      }
    }
    emit();
    for (const w of writers) w.commit();
  } catch (e) {
    for (const w of writers) w.abort();
    throw e;
  }
  return counts;
}

/** --save-embeddings: the shard's result file (hard link when possible) and its frame ids, one per line. */
async function exportEmbeddings(o: FinalizeOptions, shard: number, resultPath: string, ids: string[]): Promise<void> {
  const dir = join(o.outDir, OUTPUT_FILES.embeddings);
  const base = shardResultName(shard).replace(/\.result$/, '');
  const target = join(dir, `${base}.bin`);
  try {
    await link(resultPath, target);
  } catch {
    await copyFile(resultPath, target);
  }
  const idsOut = new AtomicFileWriter(join(dir, `${base}.ids`));
  idsOut.write(ids.join('\n') + '\n');
  idsOut.commit();
}
