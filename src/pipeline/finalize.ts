/**
 * Final outputs of a `predict` run, streamed from the finished shards in input
 * order (memory holds one shard at a time; the per-chunk verdicts are sorted
 * with an external sort):
 *
 * - `prediction_results.txt`: the original's rows, order and formatting;
 * - `prediction_results_highestscore.csv`: the original's per-chunk verdicts
 *   (grouped by ID minus its 2-character frame suffix, sorted as pandas sorts);
 * - `summary.tsv`: one row per input record, in input order (ours), with the
 *   chunks scored and called virus and the share of the record they cover;
 * - `<stem>_virus.fna`: the records called virus, whole, in input order, read
 *   again from the input (or from the work folder's copy of stdin), which must
 *   still have the sha256 the run planned from; FASTQ records become FASTA;
 * - `embeddings/` with --save-embeddings: each shard's result file and its frame ids.
 *
 * Every table is plain TSV with its header on the first line (readable by
 * `pandas.read_csv(sep="\t")` as it is): warnings go to the log, run.json and
 * DEMO_MODELS_WARNING.txt, never into a table.
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
import { FastaWriter } from '../io/fasta-writer.js';
import { fastaStem } from '../io/paths.js';
import { readSequenceBatches } from '../io/sequences.js';
import { chunkSpans, type ChunkSpan } from '../seq/chunk.js';
import { AtomicFileWriter } from '../util/atomic.js';
import { InputError } from '../util/errors.js';
import { holdPoint } from '../util/test-hold.js';
import { ExternalSorter } from './external-sort.js';
import { parseRecordRow, RECORDS_HEADER, type RecordRow } from './plan.js';
import { readCheckedShardInput, readShardResult, shardInputName, shardResultName } from './shard-files.js';
import { workFolderDamaged, type RecordsFile, type RereadableInput, type RunPlan, type WorkDir } from './workdir.js';

export const OUTPUT_FILES = {
  predictions: 'prediction_results.txt',
  highestScore: 'prediction_results_highestscore.csv',
  summary: 'summary.tsv',
  embeddings: 'embeddings',
} as const;

/**
 * New columns go at the end, so that readers by position keep working. `chunks_scored`: chunks
 * with at least one frame scored; `virus_chunks`: those whose best frame virus score exceeds
 * --min-score (the record's rule, per chunk: a record is `virus` exactly when it has one);
 * `virus_fraction`: the share of the record's bases inside those chunks (their union), 4 decimals.
 */
export const SUMMARY_HEADER = 'id\tlength\tchunks\tframes_scored\tmax_virus_score\tverdict\tstatus\tchunks_scored\tvirus_chunks\tvirus_fraction';

/** Line width of `<stem>_virus.fna` (Biopython's, as in the original's chunk file). */
export const VIRUS_FASTA_LINE_WIDTH = 60;

/** `<stem>_virus.fna`: named after the input like geNomad's `<prefix>_virus.fna` (`stdin_virus.fna` for stdin). */
export function virusFastaName(input: string): string {
  return `${fastaStem(input)}_virus.fna`;
}

export interface FinalizeOptions {
  plan: RunPlan;
  workDir: WorkDir;
  outDir: string;
  /** A record is called `virus` when its highest virus score (score2) exceeds this. */
  minScore: number;
  saveEmbeddings: boolean;
  /** Read again for `<stem>_virus.fna` (only when a record is called virus). */
  input: RereadableInput;
  /** The file name of the viral records (virusFastaName of the input as the user gave it). */
  virusFasta: string;
}

export interface FinalizeCounts {
  rows: number;
  chunkVerdicts: number;
  virusChunks: number;
  virusRecords: number;
}

interface RecordAcc {
  row: RecordRow;
  /** Frames scored. */
  scored: number;
  maxVirus: number;
  chunksScored: number;
  virusChunks: number;
  /** Bases inside the virus chunks so far (their union: chunks come in order of start), and where the last one ended. */
  virusBases: number;
  virusEnd: number;
  /** The chunk whose frames are being read (1-based; 0: none yet) and its best virus score. */
  chunk: number;
  chunkMaxVirus: number;
  /** The record's chunk windows, computed at its first virus chunk. */
  spans: ChunkSpan[] | null;
}

function newRecordAcc(row: RecordRow): RecordAcc {
  return { row, scored: 0, maxVirus: -Infinity, chunksScored: 0, virusChunks: 0, virusBases: 0, virusEnd: 0, chunk: 0, chunkMaxVirus: -Infinity, spans: null };
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

/** The chunk number of a chunk id `<record id>_chunk_<k>` (seq/chunk.ts). */
function chunkNumber(chunkKey: string, recordId: string, workDir: WorkDir): number {
  const prefix = `${recordId}_chunk_`;
  const k = chunkKey.startsWith(prefix) ? Number(chunkKey.slice(prefix.length)) : NaN;
  if (!Number.isInteger(k) || k < 1) throw workFolderDamaged(workDir.dir, `a shard holds frame '${chunkKey}' for record '${recordId}'`);
  return k;
}

/** Counts the chunk whose frames were just read: scored, and virus when its best frame exceeds minScore. */
function closeChunk(acc: RecordAcc, minScore: number, expectedLength: number): void {
  if (acc.chunk === 0) return;
  acc.chunksScored++;
  if (acc.chunkMaxVirus > minScore) {
    acc.virusChunks++;
    acc.spans ??= chunkSpans(acc.row.length, expectedLength);
    const span = acc.spans[acc.chunk - 1];
    acc.virusBases += Math.max(0, span.end - Math.max(span.start, acc.virusEnd));
    acc.virusEnd = Math.max(acc.virusEnd, span.end);
  }
  acc.chunk = 0;
  acc.chunkMaxVirus = -Infinity;
}

function summaryLine(acc: RecordAcc, minScore: number): string {
  const r = acc.row;
  const scored = acc.scored > 0;
  const verdict = !scored ? 'not_scored' : acc.maxVirus > minScore ? 'virus' : 'non_virus';
  const score = scored ? formatNumpyFloat32(acc.maxVirus) : 'NA';
  const fraction = scored ? (acc.virusBases / r.length).toFixed(4) : 'NA';
  return `${r.id}\t${r.length}\t${r.chunks}\t${acc.scored}\t${score}\t${verdict}\t${r.status}\t${acc.chunksScored}\t${acc.virusChunks}\t${fraction}`;
}

/**
 * Writes the records at `indices` (ascending) to `out`, reading the input again. The input
 * must be the one the run planned from: its bytes are hashed on the way and compared at the end.
 */
async function writeVirusRecords(out: FastaWriter, input: RereadableInput, indices: readonly number[]): Promise<void> {
  if (indices.length === 0) return;
  const hash = createHash('sha256');
  let index = 0;
  let next = 0;
  for await (const batch of readSequenceBatches(input.path, { duplicateIds: 'allow', onRawChunk: (b) => hash.update(b) })) {
    for (const record of batch) {
      if (next < indices.length && indices[next] === index) {
        out.write(record.description, record.bytes);
        next++;
      }
      index++;
    }
  }
  if (hash.digest('hex') !== input.sha256 || next !== indices.length) {
    throw new InputError(`${input.path} changed since the run read it, so its viral records cannot be written; no output was written`, {
      hint: 'restore the original input and rerun with --resume, or rerun with --force to start over from the new one',
    });
  }
}

export async function writeOutputs(o: FinalizeOptions): Promise<FinalizeCounts> {
  const { plan, workDir, outDir } = o;
  const counts: FinalizeCounts = { rows: 0, chunkVerdicts: 0, virusChunks: 0, virusRecords: 0 };
  const expectedLength = plan.fingerprint.expectedLength;
  const predictions = new PredictionResultsWriter(join(outDir, OUTPUT_FILES.predictions));
  const summary = new AtomicFileWriter(join(outDir, OUTPUT_FILES.summary));
  const highest = new AtomicFileWriter(join(outDir, OUTPUT_FILES.highestScore));
  const virusFasta = new FastaWriter(join(outDir, o.virusFasta), { lineWidth: VIRUS_FASTA_LINE_WIDTH });
  const writers = [predictions, summary, highest, virusFasta];
  /** Input indices of the records called virus, ascending. */
  const virusIndices: number[] = [];
  summary.write(`${SUMMARY_HEADER}\n`);
  const sorter = new ExternalSorter(workDir.dir, comparePythonStrings);
  const records = readRecords(workDir, plan.recordsFile);
  let current: RecordAcc | null = null;

  const finishRecord = (): void => {
    if (!current) return;
    closeChunk(current, o.minScore, expectedLength);
    if (current.scored > 0 && current.maxVirus > o.minScore) {
      counts.virusRecords++;
      virusIndices.push(current.row.index);
    }
    summary.write(`${summaryLine(current, o.minScore)}\n`);
    current = null;
  };
  /** Writes every record before `index` (records without frames included) and makes `index` current. */
  const advanceTo = async (index: number): Promise<RecordAcc> => {
    while (!current || current.row.index < index) {
      finishRecord();
      const next = await records.next();
      if (next.done) throw workFolderDamaged(workDir.dir, `records.tsv ends before record ${index}`);
      current = newRecordAcc(next.value);
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
        const chunk = chunkNumber(key, rec.row.id, workDir);
        if (chunk !== rec.chunk) {
          closeChunk(rec, o.minScore, expectedLength);
          rec.chunk = chunk;
        }
        if (score2 > rec.chunkMaxVirus) rec.chunkMaxVirus = score2;
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
      current = newRecordAcc(next.value);
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
    await writeVirusRecords(virusFasta, o.input, virusIndices);
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
