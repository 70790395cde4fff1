/**
 * `virnucpro worker --queue URL`: serves `predict --queue` runs that use the
 * same models. It resolves and checks the models as predict does (their
 * fingerprint chooses the queue), then hands each device to a queue consumer
 * (cluster/queue-worker.ts) whose device worker process runs shard-worker.ts,
 * exactly as a local run's device workers do. A job's shard input arrives in
 * the job, is checked against the plan's sha256 and written to a private
 * temporary folder for the device worker, so the hosts share no filesystem.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertUsable, QueueWorker, type QueueWorkHandler } from '../cluster/queue-worker.js';
import { shortModels } from '../cluster/registry.js';
import type { QueueUrl } from '../cluster/redis-connection.js';
import type { UnitJobData } from '../cluster/unit-job.js';
import { slowdownFor } from '../scheduler/slowdown.js';
import type { DeviceSpec } from '../scheduler/types.js';
import { ExitCode, VirnucproError } from '../util/errors.js';
import { sha256Hex } from '../util/hash.js';
import type { Log } from '../util/log.js';
import { demoWarningFor, resolveModels, type ModelChoice } from './models.js';
import { threadsPerWorker } from './predict-options.js';
import { handlerModulePath } from './predict.js';
import type { ShardJobWork } from './queue-compute.js';
import { encodeShardResult, shardInputName, type ShardResult } from './shard-files.js';
import type { ShardPayload, ShardWorkerInit } from './shard-worker.js';

export interface QueueWorkerOptions {
  url: QueueUrl;
  models: ModelChoice;
  devices: DeviceSpec[];
  /** How this worker appears in dashboards and run.json (default: the host name). */
  name?: string;
  threads?: number;
  allowCpuFallback?: boolean;
  /** How soon a unit of a killed worker is taken again, in ms (the BullMQ lock duration). */
  lockMs: number;
  log: Log;
}

export const DEFAULT_LOCK_MS = 30_000;

/** Serves until SIGINT/SIGTERM (finishing the units in flight; a second signal stops at once). */
export async function runQueueWorker(o: QueueWorkerOptions): Promise<void> {
  const demoWarning = demoWarningFor(o.models);
  if (demoWarning) o.log(demoWarning);
  const models = await resolveModels({ ...o.models, warn: o.log });
  const threads = threadsPerWorker(o.threads, o.devices);
  const scratch = await mkdtemp(join(tmpdir(), 'virnucpro-worker-'));
  const handler: QueueWorkHandler = {
    module: handlerModulePath(),
    initFor(job: UnitJobData): ShardWorkerInit {
      const work = job.work as ShardJobWork;
      return { models: models.dirs, threads, batchTokens: work.batchTokens, saveEmbeddings: false, allowCpuFallback: o.allowCpuFallback ?? false, probeCost: 0 };
    },
    async shardFor(job: UnitJobData) {
      const work = job.work as ShardJobWork;
      if (sha256Hex(work.input) !== work.inputSha256) throw new Error(`unit ${job.unit}: the shard input does not match its checksum (damaged in transit)`);
      const inputPath = join(scratch, `${job.run}-${shardInputName(work.shard)}`);
      await writeFile(inputPath, work.input);
      const payload: ShardPayload = { shard: work.shard, inputPath, inputSha256: work.inputSha256 };
      return {
        shard: { id: `shard-${work.shard}`, cost: 0, payload, tokens: work.tokens, sequences: work.frames },
        cleanup: () => rm(inputPath, { force: true }),
      };
    },
    encode: (result: unknown) => encodeShardResult(result as ShardResult).toString('base64'),
  };
  const worker = new QueueWorker({ url: o.url, name: o.name, devices: o.devices.map((d, index) => ({ ...d, index })), models: models.sha256, handler, lockMs: o.lockMs, slowdownFor: (i) => slowdownFor(i), log: o.log });
  let stoppedBy: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stoppedBy) {
      o.log(`${signal} again: stopping now; the units in flight go back to the queue when their locks expire`);
      void worker.close(true);
      return;
    }
    stoppedBy = signal;
    o.log(`${signal}: finishing the units in flight, then stopping (${signal} again stops at once)`);
    void worker.close();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await worker.start();
    await worker.closed;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await worker.close(true);
    await rm(scratch, { recursive: true, force: true });
  }
  assertUsable(worker);
  if (stoppedBy) {
    throw new VirnucproError(`worker stopped by ${stoppedBy} (models ${shortModels(models.sha256)})`, { exitCode: stoppedBy === 'SIGINT' ? ExitCode.sigint : ExitCode.sigterm });
  }
}

