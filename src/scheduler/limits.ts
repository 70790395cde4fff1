/**
 * Upper bounds on what the command line may ask of the machine, checked while
 * the flags are parsed, before any work starts. Without them an absurd value
 * does real damage before anything notices: `-t 100000` started 24.7k threads
 * and 16 GB of stacks, `--devices cpu:1000` started 1000 workers, and
 * `--steal-interval 1e9` overflowed Node's timer (2^31 - 1 ms at most) and ran
 * every millisecond. Every cap lives here, so the checks, their messages and
 * the README agree. A value out of bounds is a usage error (exit code 2).
 */
import { availableParallelism } from 'node:os';
import { UsageError } from '../util/errors.js';

/** ONNX Runtime intra-op threads per worker: at most this many per core (more only adds contention). */
export const THREADS_PER_CORE = 4;

/** CPU workers (`--devices cpu:N`, all entries together): at most one per core. */
export function maxCpuWorkers(cores: number = availableParallelism()): number {
  return cores;
}

/** `-t N`: at most THREADS_PER_CORE x cores. */
export function maxThreadsPerWorker(cores: number = availableParallelism()): number {
  return THREADS_PER_CORE * cores;
}

/** `--steal-interval` in seconds: finer than 50 ms only burns the coordinator's loop; an hour is already "never". */
export const STEAL_INTERVAL_S = { min: 0.05, max: 3600 } as const;

/** Seconds between rebalancing checks when nothing says otherwise. */
export const DEFAULT_STEAL_INTERVAL_S = 3;

/**
 * `--batch-tokens`: padded tokens in one forward pass. A million already needs tens of GB of
 * activations on ESM-2 3B (4 GB per hidden-state tensor in fp32), beyond any single GPU's memory.
 */
export const MAX_BATCH_TOKENS = 1_000_000;

/**
 * `--shard-tokens`: a shard is held whole in memory (the planner buffers it before writing it; the
 * worker reads it and returns all its results at once). 20 million tokens is 50 times the largest automatic shard (400,000) and
 * about 50 MB of shard text; an unbounded value would buffer the whole input in memory.
 */
export const MAX_SHARD_TOKENS = 20_000_000;

/** A commander argument parser: an integer from min to max, else a UsageError that says the bounds and why. */
export function integerFlag(flag: string, min: number, max: number, why?: string): (value: string) => number {
  return (value: string): number => {
    const n = Number(value);
    if (/^\d+$/.test(value.trim()) && n >= min && n <= max) return n;
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got '${value}'`, why === undefined ? {} : { hint: why });
  };
}

/** The parser for `-t, --threads` (predict and embed): ONNX Runtime threads per worker. */
export function threadsFlag(flag = '--threads', cores: number = availableParallelism()): (value: string) => number {
  return integerFlag(
    flag,
    1,
    maxThreadsPerWorker(cores),
    `this machine has ${cores} cores, and more than ${THREADS_PER_CORE} ONNX Runtime threads per core only adds contention; leave ${flag} out for the default`,
  );
}

/** The parser for `--batch-tokens` (predict and embed). */
export function batchTokensFlag(): (value: string) => number {
  return integerFlag('--batch-tokens', 1, MAX_BATCH_TOKENS, 'larger batches need more memory than any device has and run no faster; leave --batch-tokens out for the default');
}

/** The parser for `--shard-tokens` (predict). */
export function shardTokensFlag(): (value: string) => number {
  return integerFlag('--shard-tokens', 1, MAX_SHARD_TOKENS, 'each shard is held in memory whole; leave --shard-tokens out for the default');
}

/** Refuses more CPU workers than cores (each worker runs its own ONNX Runtime thread pool). */
export function checkCpuWorkers(requested: number, cores: number = availableParallelism()): void {
  const max = maxCpuWorkers(cores);
  if (requested <= max) return;
  throw new UsageError(`--devices asks for ${requested} CPU workers, more than the ${cores} cores of this machine`, {
    hint: `use at most cpu:${max}; each worker has its own ONNX Runtime threads, so extra workers only compete for the same cores (-t sets threads per worker)`,
  });
}

/** Parses `--steal-interval` (seconds) within STEAL_INTERVAL_S. */
export function parseStealInterval(text: string): number {
  const s = Number(text);
  const { min, max } = STEAL_INTERVAL_S;
  if (text.trim() === '' || !Number.isFinite(s) || s < min || s > max) {
    throw new UsageError(`--steal-interval must be a number of seconds from ${min} to ${max}, got '${text}'`);
  }
  return s;
}
