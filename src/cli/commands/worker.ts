/**
 * `virnucpro worker`: flag parsing only; the worker is src/pipeline/queue-serve.ts.
 */
import type { Command } from 'commander';
import { parseQueueUrl } from '../../cluster/redis-connection.js';
import { DEFAULT_LOCK_MS, runQueueWorker } from '../../pipeline/queue-serve.js';
import { threadsFlag } from '../../scheduler/limits.js';
import { schedulerSettingsFrom } from '../../scheduler/settings.js';
import { UsageError } from '../../util/errors.js';
import { openLog } from '../../util/log.js';
import { addModelOptions, modelChoiceFrom, type ModelFlags } from '../model-flags.js';
import { addDeviceOptions } from '../scheduler-flags.js';

interface WorkerFlags extends ModelFlags {
  queue: string;
  devices?: string;
  gpus?: string;
  threads?: number;
  name?: string;
  lockTimeout: number;
  allowCpuFallback?: boolean;
  quiet?: boolean;
  logFile?: string;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 1 || n > 3600) throw new UsageError(`--lock-timeout must be a number of seconds from 1 to 3600, got '${value}'`);
  return n;
}

export function registerWorker(program: Command): void {
  const cmd = program
    .command('worker')
    .description('serve `predict --queue` runs: take their shards from Redis and compute them on this host\'s devices (one consumer per device)')
    .requiredOption('--queue <url>', 'the Redis the runs use: redis://[user:password@]host:port/db, or rediss:// for TLS')
    .option('-t, --threads <N>', 'ONNX Runtime threads per device worker (default: cores / CPU workers)', threadsFlag('--threads'))
    .option('--name <name>', 'how this worker appears in dashboards and run.json (default: the host name)')
    .option('--lock-timeout <seconds>', 'how soon a shard of a worker that died is taken by another (the BullMQ lock duration)', seconds, DEFAULT_LOCK_MS / 1000)
    .option('--allow-cpu-fallback', 'run on the CPU (with a warning) when a GPU provider cannot start or cannot run the models')
    .option('-q, --quiet', 'log only warnings and errors')
    .option('--log-file <file>', 'also append the log to this file');
  addDeviceOptions(addModelOptions(cmd)).action(async (flags: WorkerFlags) => {
    const url = parseQueueUrl(flags.queue);
    const log = openLog({ quiet: flags.quiet, file: flags.logFile, fileLabel: '--log-file' });
    const { devices } = await schedulerSettingsFrom({ devices: flags.devices, gpus: flags.gpus }, { log });
    await runQueueWorker({
      url,
      // A worker serves any -e: the coordinator checked the classifier against its run's.
      models: { ...modelChoiceFrom(flags), allowLengthMismatch: true },
      devices,
      name: flags.name,
      threads: flags.threads,
      allowCpuFallback: flags.allowCpuFallback,
      lockMs: Math.round(flags.lockTimeout * 1000),
      log,
    });
  });
}
