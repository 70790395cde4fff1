/**
 * Planning: one streaming pass over the input FASTA that runs VirNucPro's
 * sequence stages (chunking, six-frame translation, frame selection) and cuts
 * the kept frames into shards of work on disk, sized by tokens. Memory holds
 * one shard at a time, whatever the input size.
 *
 * Shards follow input order: frame i of the run is line (i - first frame of the
 * shard) of its shard file, so results can be streamed out in the original's
 * order without sorting. A record's frames may span two shards.
 */
import { createHash } from 'node:crypto';
import { readFasta } from '../io/fasta.js';
import { FastaWriter } from '../io/fasta-writer.js';
import { processRecordBytes } from '../seq/record.js';
import { AtomicFileWriter, writeFileAtomic } from '../util/atomic.js';
import type { Progress } from '../util/progress.js';
import { holdPoint } from '../util/test-hold.js';
import { formatShardInput, shardInputName, type ShardFrame } from './shard-files.js';
import type { PlanCounts, PlannedShard, WorkDir } from './workdir.js';

/** Why a record produced no frame; `ok` when it did. */
export type RecordStatus = 'ok' | 'empty' | 'shorter_than_codon' | 'no_stop_free_frame';

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

export interface PlanOptions {
  input: string;
  expectedLength: number;
  workDir: WorkDir;
  /** Target tokens (both models) per shard. */
  shardTokens: number;
  /** Estimated FLOPs of a shard from its token counts (scheduler/cost.ts). */
  shardCost: (dnaTokens: number[], proteinTokens: number[]) => number;
  /** The original's intermediate FASTA files, written on the way (`--keep-intermediate`). */
  intermediate?: { chunked: string; nucleotide: string; protein: string };
  progress?: Progress;
}

export interface PlanResult {
  shards: PlannedShard[];
  counts: PlanCounts;
}

/** Writes records.tsv and the shard inputs into the (empty) work folder and returns the shard list. */
export async function planShards(options: PlanOptions): Promise<PlanResult> {
  const { workDir } = options;
  const shards: PlannedShard[] = [];
  const counts: PlanCounts = {
    records: 0,
    chunks: 0,
    frames: 0,
    recordsWithoutFrames: { empty: 0, shorterThanCodon: 0, noStopFreeFrame: 0 },
    inputBytes: 0,
  };
  const records = new AtomicFileWriter(workDir.recordsPath);
  records.write(`${RECORDS_HEADER}\n`);
  const keep = options.intermediate
    ? [
        new FastaWriter(options.intermediate.chunked, { lineWidth: 60 }),
        new FastaWriter(options.intermediate.nucleotide, { lineWidth: 0 }),
        new FastaWriter(options.intermediate.protein, { lineWidth: 0 }),
      ]
    : null;

  let pending: ShardFrame[] = [];
  let pendingTokens = 0;
  let dnaTokens: number[] = [];
  let proteinTokens: number[] = [];
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const index = shards.length + 1;
    const text = formatShardInput(pending);
    await writeFileAtomic(workDir.path(shardInputName(index)), text);
    shards.push({
      index,
      frames: pending.length,
      firstRecord: pending[0].recordIndex,
      lastRecord: pending[pending.length - 1].recordIndex,
      nucleotideTokens: dnaTokens.reduce((a, b) => a + b, 0),
      proteinTokens: proteinTokens.reduce((a, b) => a + b, 0),
      cost: options.shardCost(dnaTokens, proteinTokens),
      inputSha256: createHash('sha256').update(text).digest('hex'),
    });
    pending = [];
    pendingTokens = 0;
    dnaTokens = [];
    proteinTokens = [];
  };

  let recordIndex = 0;
  const sink = {
    chunk: (id: string, seq: Uint8Array) => keep?.[0].write(id, seq),
    frame: (id: string, nt: Uint8Array, aa: Uint8Array) => {
      const nucleotide = Buffer.from(nt.buffer, nt.byteOffset, nt.byteLength).toString('latin1');
      const protein = Buffer.from(aa.buffer, aa.byteOffset, aa.byteLength).toString('latin1');
      keep?.[1].write(id, nt);
      keep?.[2].write(id, aa);
      pending.push({ recordIndex, id, nucleotide, protein });
      const d = estimateDnaTokens(nt.length);
      const p = aa.length + 2;
      dnaTokens.push(d);
      proteinTokens.push(p);
      pendingTokens += d + p;
    },
  };
  const progress = options.progress;
  try {
    for await (const record of readFasta(options.input, { onProgress: (done) => progress?.update(done, `${counts.records} records`) })) {
      recordIndex = counts.records++;
      counts.inputBytes += record.length;
      let status: RecordStatus = 'ok';
      let c = { chunks: 0, frames: 0 };
      if (record.length === 0) {
        status = 'empty';
        counts.recordsWithoutFrames.empty++;
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
      // Flush between records once the budget is reached, so small records never straddle shards needlessly.
      if (pendingTokens >= options.shardTokens) {
        await flush();
        if (shards.length === 1) await holdPoint('plan');
      }
    }
    await flush();
    records.commit();
    for (const w of keep ?? []) w.commit();
  } catch (e) {
    records.abort();
    for (const w of keep ?? []) w.abort();
    throw e;
  } finally {
    progress?.stop();
  }
  return { shards, counts };
}
