/**
 * Planning: one streaming pass over the input (FASTA or FASTQ, io/sequences.ts)
 * that runs VirNucPro's sequence stages (chunking, six-frame translation, frame
 * selection), cuts the kept frames into shards of work on disk, sized by tokens,
 * and checksums the input on the way (the run's fingerprint), so the input is
 * read once. With `--keep-intermediate` the original's FASTA files are written in
 * the same pass; an input read from stdin is copied into the work folder in the
 * same pass too (io/input-copy.ts), since the outputs read the input again.
 * Records shorter than `--min-length` are listed (status `too_short`) but not
 * chunked.
 *
 * Shards follow input order: frame i of the run is line (i - first frame of the
 * shard) of its shard file, so results can be streamed out in the original's
 * order without sorting. A shard is closed as soon as it reaches its token
 * budget, inside a record if need be, so a long record (a 3 Mb genome gives
 * thousands of frames) is spread over several shards like any other work and
 * memory holds at most one shard's frame token counts, whatever the record size.
 *
 * Shard sizes. A shard is two things at once: the unit of numerics (the worker
 * batches a shard's sequences by length, and batch composition changes float
 * rounding in the 7th-8th digit, so where shards are cut must depend only on the
 * input and the result-changing parameters, never on the devices) and the unit
 * of scheduling (balancing several devices needs many small units, so that the
 * last ones hold little work). A fixed 400,000 tokens gave 3 shards for 6,000
 * reads: nothing to balance. The default (`--shard-tokens auto`, ShardGrowth)
 * therefore grows shard sizes with the input, in the one pass, without knowing
 * its total:
 *
 *   budget of a shard = max(minTokens, min(maxTokens, tokens planned before it / growthDivisor))
 *
 * Every shard holds at most 1/128 of the work planned before it, so the last
 * shards of a run, the ones that decide how evenly devices finish, are at most
 * about 1/128 of the whole, whatever the input's size, and a run of any size
 * has at least about 128 shards once it holds more than minTokens x 128 tokens.
 * Sizes follow the frames planned, so a compressed input or a pipe needs no size
 * estimate, and the rule is a pure function of the input. minTokens keeps a
 * unit at least two batches' worth of tokens (2 x --batch-tokens, counting both
 * models, so about one full batch per model, and at least 8,192): a GPU with
 * `--batch-tokens auto` (hundreds of thousands of tokens) gets shards of full
 * batches, never a batch split over units, and the per-shard costs (a file read,
 * an IPC message, an fsynced result file) stay small against the compute.
 * maxTokens (400,000, or minTokens when that is larger) bounds the memory a
 * shard takes. `--shard-tokens N` cuts every shard at N tokens instead. The
 * sizing is part of plan.json's fingerprint (a resume cuts the same shards) and
 * of run.json. Measured: docs/benchmarks.md, Scheduling.
 *
 * Public API: `planShards` (the pass itself), `planRun` (a fresh plan.json) and
 * `replanDamaged` (the same files again into a damaged work folder; workdir.ts
 * says when).
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { InputCopy } from '../io/input-copy.js';
import { readSequences, sourceName, type SequenceFormat, type SequenceSource } from '../io/sequences.js';
import { processRecordBytes } from '../seq/record.js';
import { InputError } from '../util/errors.js';
import { ChecksummedFileWriter } from '../util/hash.js';
import type { Progress } from '../util/progress.js';
import { holdPoint } from '../util/test-hold.js';
import { formatShardLine, shardInputName } from './shard-files.js';
import { IntermediateFiles, type TranslateOutputs } from './translate-files.js';
import {
  describeDamage,
  type PlanCounts,
  type PlannedInput,
  type PlannedShard,
  type RecordsFile,
  type RunFingerprint,
  type RunPlan,
  type WorkDamage,
  type WorkDir,
} from './workdir.js';

/** Why a record produced no frame; `ok` when it did. */
export type RecordStatus = 'ok' | 'empty' | 'too_short' | 'shorter_than_codon' | 'no_stop_free_frame';

/** One line of records.tsv. */
export interface RecordRow {
  index: number;
  id: string;
  length: number;
  chunks: number;
  frames: number;
  status: RecordStatus;
}

export const RECORDS_HEADER = 'index\tid\tlength\tchunks\tframes\tstatus';

export function formatRecordRow(r: RecordRow): string {
  return `${r.index}\t${r.id}\t${r.length}\t${r.chunks}\t${r.frames}\t${r.status}`;
}

export function parseRecordRow(line: string): RecordRow {
  const [index, id, length, chunks, frames, status] = line.split('\t');
  return { index: Number(index), id, length: Number(length), chunks: Number(chunks), frames: Number(frames), status: status as RecordStatus };
}

/**
 * DNABERT-S token count estimate for scheduling (the BPE vocabulary averages
 * about four bases per token); the real count is only known in the worker.
 */
export function estimateDnaTokens(nucleotideLength: number): number {
  return Math.ceil(nucleotideLength / 4) + 2;
}

/** The default shard sizes (see the header): each shard's budget grows with the tokens planned before it. */
export interface ShardGrowth {
  minTokens: number;
  maxTokens: number;
  growthDivisor: number;
}

/** Tokens (both models) per shard: a fixed budget (`--shard-tokens N`) or growing sizes (the default). */
export type ShardSizing = number | ShardGrowth;

/** The constants of the default sizing; defaultShardSizing adds the run's batch size. */
export const SHARD_GROWTH = {
  /** A shard holds at least this many batches' worth of tokens (both models together)... */
  minBatches: 2,
  /** ...and at least this many tokens. */
  minTokens: 8_192,
  /** At most this many (unless two batches are more): a few thousand frames of 300-500 bp. */
  maxTokens: 400_000,
  /** Each shard holds at most 1/growthDivisor of the tokens planned before it. */
  growthDivisor: 128,
} as const;

/** `--shard-tokens auto`: the growing sizes for a run that batches `batchTokens` padded tokens per model. */
export function defaultShardSizing(batchTokens: number): ShardGrowth {
  const minTokens = Math.max(SHARD_GROWTH.minTokens, SHARD_GROWTH.minBatches * batchTokens);
  return { minTokens, maxTokens: Math.max(minTokens, SHARD_GROWTH.maxTokens), growthDivisor: SHARD_GROWTH.growthDivisor };
}

/** The token budget of the shard that starts after `plannedTokens` tokens of earlier shards. */
export function shardBudget(sizing: ShardSizing, plannedTokens: number): number {
  if (typeof sizing === 'number') return sizing;
  return Math.max(sizing.minTokens, Math.min(sizing.maxTokens, Math.floor(plannedTokens / sizing.growthDivisor)));
}

/** For logs and hints: `20000`, or `auto: 8192 to 400000`. */
export function describeShardSizing(sizing: ShardSizing): string {
  return typeof sizing === 'number' ? String(sizing) : `auto: ${sizing.minTokens} to ${sizing.maxTokens}`;
}

export interface PlanOptions {
  /** A path, or stdin as a stream (then `inputCopy` should be set: it cannot be read again). */
  input: SequenceSource;
  /** Where to write a copy of the input as it is read (io/input-copy.ts): for stdin. */
  inputCopy?: string;
  expectedLength: number;
  /** Records shorter than this are not chunked (status too_short); default 0. */
  minLength?: number;
  workDir: WorkDir;
  /** Tokens (both models) per shard. */
  shardTokens: ShardSizing;
  /** Estimated FLOPs of a shard from its token counts (scheduler/cost.ts). */
  shardCost: (dnaTokens: number[], proteinTokens: number[]) => number;
  /** The original's intermediate FASTA files, written on the way (`--keep-intermediate`). */
  intermediate?: TranslateOutputs;
  progress?: Progress;
}

export interface PlanResult {
  shards: PlannedShard[];
  counts: PlanCounts;
  recordsFile: RecordsFile;
  /** sha256 of the input file's bytes as read (compressed, if it is). */
  inputSha256: string;
  input: PlannedInput;
}

/** The shard being filled: its file is written frame by frame and checksummed on the way. */
interface OpenShard {
  out: ChecksummedFileWriter;
  index: number;
  frames: number;
  firstRecord: number;
  lastRecord: number;
  dnaTokens: number[];
  proteinTokens: number[];
  tokens: number;
  /** This shard's token budget (shardBudget). */
  budget: number;
}

/** Writes records.tsv and the shard inputs into the work folder (over any files there) and returns the shard list. */
export async function planShards(options: PlanOptions): Promise<PlanResult> {
  const { workDir } = options;
  const shards: PlannedShard[] = [];
  const counts: PlanCounts = {
    records: 0,
    chunks: 0,
    frames: 0,
    recordsWithoutFrames: { empty: 0, shorterThanCodon: 0, noStopFreeFrame: 0, tooShort: 0 },
    inputBases: 0,
  };
  const records = new ChecksummedFileWriter(workDir.recordsPath);
  records.write(`${RECORDS_HEADER}\n`);
  const intermediate = options.intermediate ? new IntermediateFiles(options.intermediate) : null;
  const copy = options.inputCopy ? new InputCopy(options.inputCopy) : null;
  const inputHash = createHash('sha256');
  const minLength = options.minLength ?? 0;
  let format: SequenceFormat = 'fasta';

  let shard: OpenShard | null = null;
  /** Tokens of the shards closed so far, which set the next shard's budget. */
  let plannedTokens = 0;
  // Synchronous (AtomicFileWriter), so a shard can be closed from inside processRecordBytes' sink.
  const closeShard = (): void => {
    if (!shard) return;
    const s = shard;
    shard = null;
    plannedTokens += s.tokens;
    shards.push({
      index: s.index,
      frames: s.frames,
      firstRecord: s.firstRecord,
      lastRecord: s.lastRecord,
      nucleotideTokens: s.dnaTokens.reduce((a, b) => a + b, 0),
      proteinTokens: s.proteinTokens.reduce((a, b) => a + b, 0),
      cost: options.shardCost(s.dnaTokens, s.proteinTokens),
      inputSha256: s.out.commit(),
    });
  };

  let recordIndex = 0;
  let heldAtPlan = false;
  const sink = {
    chunk: (id: string, seq: Uint8Array) => intermediate?.chunk(id, seq),
    frame: (id: string, nt: Uint8Array, aa: Uint8Array) => {
      intermediate?.frame(id, nt, aa);
      if (!shard) {
        const index = shards.length + 1;
        const out = new ChecksummedFileWriter(workDir.path(shardInputName(index)));
        shard = {
          out,
          index,
          frames: 0,
          firstRecord: recordIndex,
          lastRecord: recordIndex,
          dnaTokens: [],
          proteinTokens: [],
          tokens: 0,
          budget: shardBudget(options.shardTokens, plannedTokens),
        };
      }
      const nucleotide = Buffer.from(nt.buffer, nt.byteOffset, nt.byteLength).toString('latin1');
      const protein = Buffer.from(aa.buffer, aa.byteOffset, aa.byteLength).toString('latin1');
      shard.out.write(formatShardLine({ recordIndex, id, nucleotide, protein }));
      shard.frames++;
      shard.lastRecord = recordIndex;
      const d = estimateDnaTokens(nt.length);
      const p = aa.length + 2;
      shard.dnaTokens.push(d);
      shard.proteinTokens.push(p);
      shard.tokens += d + p;
      if (shard.tokens >= shard.budget) closeShard();
    },
  };
  const progress = options.progress;
  try {
    const reading = readSequences(options.input, {
      onProgress: (done) => progress?.update(done, `${counts.records} records`),
      onRawChunk: (bytes) => {
        inputHash.update(bytes);
        copy?.write(bytes);
      },
      onFormat: (f) => (format = f),
    });
    for await (const record of reading) {
      recordIndex = counts.records++;
      counts.inputBases += record.length;
      let status: RecordStatus = 'ok';
      let c = { chunks: 0, frames: 0 };
      if (record.length === 0) {
        status = 'empty';
        counts.recordsWithoutFrames.empty++;
      } else if (record.length < minLength) {
        status = 'too_short';
        counts.recordsWithoutFrames.tooShort++;
      } else {
        c = processRecordBytes(record.id, record.bytes, options.expectedLength, sink);
        if (c.frames === 0) {
          if (record.length < 3) {
            status = 'shorter_than_codon';
            counts.recordsWithoutFrames.shorterThanCodon++;
          } else {
            status = 'no_stop_free_frame';
            counts.recordsWithoutFrames.noStopFreeFrame++;
          }
        }
      }
      counts.chunks += c.chunks;
      counts.frames += c.frames;
      records.write(`${formatRecordRow({ index: recordIndex, id: record.id, length: record.length, chunks: c.chunks, frames: c.frames, status })}\n`);
      if (!heldAtPlan && shards.length > 0) {
        heldAtPlan = true;
        await holdPoint('plan');
      }
    }
    closeShard();
    const recordsSha256 = records.commit();
    intermediate?.commit();
    const input: PlannedInput = { format };
    if (copy) input.copy = { name: basename(copy.path), sha256: copy.commit().sha256 };
    return { shards, counts, recordsFile: { sha256: recordsSha256, rows: counts.records }, inputSha256: inputHash.digest('hex'), input };
  } catch (e) {
    (shard as OpenShard | null)?.out.abort();
    records.abort();
    intermediate?.abort();
    copy?.abort();
    throw e;
  } finally {
    progress?.stop();
  }
}

/** The fingerprint fields known before the input is read. */
export type ParameterFingerprint = Omit<RunFingerprint, 'inputSha256'>;

/** Plans the run from scratch into an emptied work folder and writes plan.json. */
export async function planRun(options: PlanOptions, parameters: ParameterFingerprint): Promise<RunPlan> {
  await options.workDir.reset();
  const p = await planShards(options);
  const plan: RunPlan = { fingerprint: { ...parameters, inputSha256: p.inputSha256 }, shards: p.shards, counts: p.counts, recordsFile: p.recordsFile, input: p.input };
  await options.workDir.writePlan(plan);
  return plan;
}

/**
 * Plans a damaged work folder again from the same input and parameters (the
 * caller checked the fingerprint), which rewrites the same files. The input is
 * the original file or, for a run that read stdin, its copy (checked by the caller). Results of
 * shards whose input was damaged are deleted first, since they may have been
 * computed from the damaged file; the rest are kept when the shards come out the
 * same, which deterministic planning guarantees (otherwise all are discarded).
 */
export async function replanDamaged(
  options: PlanOptions,
  previous: RunPlan,
  damage: readonly WorkDamage[],
  log: (line: string) => void,
): Promise<RunPlan> {
  const { workDir } = options;
  const damagedShards = damage.flatMap((d) => (d.shard === undefined ? [] : [d.shard]));
  log(
    `work folder ${workDir.dir} is damaged (${describeDamage(damage)}): planning again from the input` +
      (damagedShards.length > 0 ? `; the results of ${damagedShards.length} shard(s) with a damaged input are discarded` : ''),
  );
  await workDir.removeResults(damagedShards);
  const p = await planShards({ ...options, inputCopy: undefined });
  // The original's bytes, or those of the copy of stdin.
  if (p.inputSha256 !== previous.fingerprint.inputSha256 && p.inputSha256 !== previous.input.copy?.sha256) {
    throw new InputError(`${sourceName(options.input)} changed while it was being read`, { hint: 'rerun once the file is no longer being written' });
  }
  const same =
    p.shards.length === previous.shards.length &&
    p.shards.every((s, i) => s.inputSha256 === previous.shards[i].inputSha256 && s.frames === previous.shards[i].frames);
  if (!same) {
    log('the new plan has different shards: discarding every previous result');
    await workDir.removeResults('all');
  }
  await workDir.removeShardsAbove(p.shards.length);
  const plan: RunPlan = { fingerprint: previous.fingerprint, shards: p.shards, counts: p.counts, recordsFile: p.recordsFile, input: previous.input };
  await workDir.writePlan(plan);
  return plan;
}
