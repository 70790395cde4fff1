/**
 * The queue-mode flags of `predict` (--queue and its limits), declared here and
 * turned into the settings src/pipeline/queue-compute.ts takes.
 */
import { Option, type Command } from 'commander';
import { parseQueueUrl } from '../cluster/redis-connection.js';
import { DEFAULT_QUEUE_MAX_BYTES, formatBytes, parseMaxBytes } from '../cluster/unit-job.js';
import { assertQueueCombination, type QueueSettings } from '../pipeline/queue-compute.js';
import { UsageError } from '../util/errors.js';

export const DEFAULT_QUEUE_ATTEMPTS = 3;

export interface QueueFlags {
  queue?: string;
  queueMaxBytes: number;
  queueAttempts: number;
}

function attempts(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 100) throw new UsageError(`--queue-attempts must be an integer from 1 to 100, got '${value}'`);
  return n;
}

export function addQueueOptions(cmd: Command): Command {
  return cmd
    .option('--queue <url>', 'compute through a Redis queue served by `virnucpro worker`s on any hosts: redis://[user:password@]host:port/db, or rediss:// for TLS')
    .addOption(
      new Option('--queue-max-bytes <n>', 'with --queue, the largest shard input or result stored in Redis (K/M suffixes)')
        .argParser(parseMaxBytes)
        .default(DEFAULT_QUEUE_MAX_BYTES, formatBytes(DEFAULT_QUEUE_MAX_BYTES)),
    )
    .option('--queue-attempts <n>', 'with --queue, attempts per shard before it is reported as failed', attempts, DEFAULT_QUEUE_ATTEMPTS);
}

/** The queue settings, or undefined without --queue; refuses --queue with --plan-only or --units (exit code 2). */
export function queueSettingsFrom(flags: QueueFlags & { planOnly?: boolean; units?: unknown }): QueueSettings | undefined {
  if (flags.queue === undefined) return undefined;
  assertQueueCombination(flags);
  return { url: parseQueueUrl(flags.queue), maxBytes: flags.queueMaxBytes, attempts: flags.queueAttempts };
}
