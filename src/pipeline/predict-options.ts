/**
 * What `predict` takes, and its defaults in one place: the CLI shows them in
 * --help, and resolvePredictOptions applies them once, before the run starts,
 * so the stages read settled values.
 */
import { availableParallelism } from 'node:os';
import type { Precision } from '../formats/onnx/layers.js';
import { DEFAULT_BATCH_TOKENS } from '../runtime/embedders.js';
import type { SchedulerSettings } from '../scheduler/settings.js';
import type { DeviceSpec } from '../scheduler/types.js';
import type { Log } from '../util/log.js';
import type { ModelChoice } from './models.js';
import type { UnitSlice } from './slices.js';
import type { QueueSettings } from './queue-compute.js';

export interface PredictOptions {
  /** A FASTA or FASTQ file (plain or compressed), or `-` for stdin (io/paths.ts STDIN_PATH). */
  input: string;
  expectedLength: number;
  /** Default `<stem>_virnucpro` in the current directory. */
  outDir?: string;
  models: ModelChoice;
  /** ONNX Runtime intra-op threads per worker (default: see threadsPerWorker). */
  threads?: number;
  /** A number, or 'auto': from the memory of the run's GPUs (scheduler/batch-size.ts). */
  batchTokens?: number | 'auto';
  /** A number (every shard that many tokens), or 'auto': sizes that grow with the input (plan.ts). */
  shardTokens?: number | 'auto';
  resume?: boolean;
  force?: boolean;
  /** Scatter/gather (slices.ts): plan the run, then stop without computing. */
  planOnly?: boolean;
  /** Scatter/gather (slices.ts): compute only this slice of a planned run's shards, and write no outputs. */
  units?: UnitSlice;
  /** Queue mode (queue-compute.ts): the shards are computed by `virnucpro worker`s through Redis. */
  queue?: QueueSettings;
  /** The arguments as the user gave them, for the next steps --plan-only prints. */
  commandLine?: readonly string[];
  keepIntermediate?: boolean;
  saveEmbeddings?: boolean;
  /** summary.tsv calls a record virus when its highest virus score exceeds this. */
  minScore?: number;
  /** Records shorter than this many bases are not scored (status too_short); 0: every record is. Result-changing. */
  minLength?: number;
  allowCpuFallback?: boolean;
  /** The live web dashboard (--dashboard-port, --dashboard-host; monitor/live-dashboard.ts); none when absent. */
  dashboard?: { port: number; host?: string };
  scheduler: SchedulerSettings;
  quiet?: boolean;
  verbose?: boolean;
  /** Default: stderr. */
  log?: Log;
}

export const PREDICT_DEFAULTS = {
  batchTokens: DEFAULT_BATCH_TOKENS,
  /**
   * Tokens (both models) per shard: 'auto' grows them with the input from two batches' worth to
   * 400,000 (plan.ts, SHARD_GROWTH), so that any run has enough shards to balance its devices.
   */
  shardTokens: 'auto',
  /** Reproduces the original's argmax labels. */
  minScore: 0.5,
  /** Off: every record is scored, as in the original. */
  minLength: 0,
  precision: 'fp32' as Precision,
  /**
   * ONNX Runtime threads of each worker in a run without CPU workers: a GPU worker's own CPU work
   * (feeding the device, the few ops placed on the CPU) needs few.
   */
  gpuWorkerThreads: 2,
} as const;

/** The options with every default applied. */
export type ResolvedPredictOptions = Required<Omit<PredictOptions, 'outDir' | 'units' | 'commandLine' | 'queue' | 'dashboard'>> &
  Pick<PredictOptions, 'outDir' | 'units' | 'commandLine' | 'queue' | 'dashboard'>;

/**
 * ONNX Runtime threads per worker: `-t` when given; else the cores shared among the CPU workers,
 * so that they do not compete for them; a run on GPUs only gets PREDICT_DEFAULTS.gpuWorkerThreads.
 * Every worker of the run gets the same number.
 */
export function threadsPerWorker(threads: number | undefined, devices: readonly DeviceSpec[], cores: number = availableParallelism()): number {
  if (threads !== undefined) return threads;
  const cpuWorkers = devices.filter((d) => d.kind === 'cpu').length;
  return cpuWorkers > 0 ? Math.max(1, Math.floor(cores / cpuWorkers)) : PREDICT_DEFAULTS.gpuWorkerThreads;
}

export function resolvePredictOptions(o: PredictOptions): ResolvedPredictOptions {
  return {
    ...o,
    threads: threadsPerWorker(o.threads, o.scheduler.devices),
    batchTokens: o.batchTokens ?? PREDICT_DEFAULTS.batchTokens,
    shardTokens: o.shardTokens ?? PREDICT_DEFAULTS.shardTokens,
    // A slice job continues a planned run.
    resume: (o.resume ?? false) || o.units !== undefined,
    force: o.force ?? false,
    planOnly: o.planOnly ?? false,
    keepIntermediate: o.keepIntermediate ?? false,
    saveEmbeddings: o.saveEmbeddings ?? false,
    minScore: o.minScore ?? PREDICT_DEFAULTS.minScore,
    minLength: o.minLength ?? PREDICT_DEFAULTS.minLength,
    allowCpuFallback: o.allowCpuFallback ?? false,
    quiet: o.quiet ?? false,
    verbose: o.verbose ?? false,
    log: o.log ?? ((line: string) => process.stderr.write(`${line}\n`)),
  };
}
