/**
 * `predict --queue URL`: the compute stage through a Redis queue instead of
 * local devices. The plan, the work folder, resume and the outputs are the
 * local run's: each shard becomes one job carrying its input (the shard file's
 * text, checked against plan.json's sha256), a worker anywhere computes it
 * with the same handler a local device worker runs (shard-worker.ts), and the
 * result comes back as the exact bytes of the shard result file, which are
 * checked (shard-files.ts, decodeShardResult) and written into work/ as a
 * local run writes them. So the outputs are byte-identical to a local run with
 * the same plan, and a run can be resumed locally or through the queue alike.
 *
 * --save-embeddings is refused with --queue: the merged features are about
 * 13 KiB per frame with the real models (DNABERT-S 768 + ESM-2 2560 floats),
 * hundreds of MiB per run in Redis; run it locally, or on a shared filesystem
 * with `--plan-only` and `--units` (README, Running on a cluster).
 */
import { readFile, stat } from 'node:fs/promises';
import { QueueRun, type QueueRunOptions, type QueueUnit } from '../cluster/queue-run.js';
import { runIdFor } from '../cluster/queue-names.js';
import { checkRedis, type QueueUrl } from '../cluster/redis-connection.js';
import { formatBytes, type UnitJobResult } from '../cluster/unit-job.js';
import { join } from 'node:path';
import { Dashboard } from '../monitor/dashboard.js';
import { METRICS_LOG_NAME } from '../monitor/metrics-log.js';
import { DeviceTelemetry } from '../monitor/telemetry.js';
import { dashboardDefault, recordMetrics } from '../monitor/session.js';
import { unitLogWriter } from '../monitor/unit-log.js';
import { UNIT_LOG_NAME } from '../report/unit-events.js';
import type { RunReport } from '../scheduler/run-stats.js';
import { writeFileAtomic } from '../util/atomic.js';
import { ExitCode, InputError, UsageError, VirnucproError } from '../util/errors.js';
import { sha256Hex } from '../util/hash.js';
import { onInterrupt } from '../util/interrupt.js';
import { holdPoint } from '../util/test-hold.js';
import type { ResolvedModels } from './models.js';
import type { ComputeRequest } from './predict.js';
import type { ResolvedPredictOptions } from './predict-options.js';
import { decodeShardResult, shardResultName } from './shard-files.js';
import type { ShardPayload } from './shard-worker.js';
import type { RunPlan } from './workdir.js';

export interface QueueSettings {
  url: QueueUrl;
  /** --queue-max-bytes: the largest unit input or result stored in Redis. */
  maxBytes: number;
  /** --queue-attempts: attempts per unit before it is reported as failed. */
  attempts: number;
  /** Milliseconds between the coordinator's sweeps of the queue (tests shorten it). */
  sweepMs?: number;
}

/** What a shard job carries to a worker (UnitJobData.work). */
export interface ShardJobWork {
  shard: number;
  frames: number;
  tokens: number;
  /** The shard input file's text (shard-files.ts), and plan.json's sha256 of it. */
  input: string;
  inputSha256: string;
  /** Changes the batches, hence the results' last bits: the worker runs with the run's value. */
  batchTokens: number;
}

/**
 * Refuses the flags --queue cannot be combined with (exit code 2), saying what to do instead: --plan-only and
 * --units are the workflow-engine way of spreading a run (jobs sharing a filesystem), --queue the Redis way.
 */
export function assertQueueCombination(o: { planOnly?: boolean; units?: unknown }): void {
  if (o.planOnly) {
    throw new UsageError('--plan-only cannot be combined with --queue: a queue run plans, enqueues and writes the outputs in one command', {
      hint: 'drop --plan-only (`predict INPUT ... --queue URL` plans first, then hands the shards to the workers); or, for workflow-engine jobs on a shared filesystem, use --plan-only, --units and a final --resume without --queue',
    });
  }
  if (o.units) {
    throw new UsageError('--units cannot be combined with --queue: the queue hands the units to the workers itself', {
      hint: 'run `predict INPUT ... --queue URL` once and start `virnucpro worker --queue URL` on each host; --units I/N is for workflow-engine jobs without --queue',
    });
  }
}

/** Refuses what queue mode cannot do, and an unreachable Redis or a refused password, before any work. */
export async function checkQueueOptions(o: ResolvedPredictOptions, queue: QueueSettings): Promise<void> {
  assertQueueCombination(o);
  if (o.saveEmbeddings) {
    throw new UsageError('--save-embeddings cannot be combined with --queue: the merged features (about 13 KiB per frame) are too large to carry through Redis', {
      hint: 'run --save-embeddings locally, or with --plan-only and --units jobs on a filesystem the hosts share (README: Running on a cluster)',
    });
  }
  await checkRedis(queue.url);
}

/** Bytes a shard's result takes in Redis: the result file (header and float32 probabilities), base64. */
function resultBytes(frames: number, classes: number): number {
  return Math.ceil(((frames * classes * 4 + 512) * 4) / 3);
}

/** A local run's request plus the queue; the live dashboard gets the same samples and units as a local run's. */
type QueueComputeRequest = ComputeRequest & { queue: QueueSettings };

/** The QueueRun of this plan's run: its queue (the models' fingerprint) and job ids (the run's fingerprint). */
function queueRunOf(queue: QueueSettings, models: ResolvedModels, plan: RunPlan, more: Omit<QueueRunOptions, 'url' | 'models' | 'runId' | 'attempts' | 'maxBytes'>): QueueRun {
  return new QueueRun({ url: queue.url, models: models.sha256, runId: runIdFor(plan.fingerprint), attempts: queue.attempts, maxBytes: queue.maxBytes, ...more });
}

export async function computeShardsThroughQueue({ options: o, queue, models, pending, plan, workDir, outDir, batchTokens, live }: QueueComputeRequest): Promise<RunReport> {
  const classes = models.configs.classifier.numClasses;
  // Every unit's size is checked before the first is enqueued, so a refused run leaves nothing in Redis.
  for (const s of pending) {
    const p = s.payload as ShardPayload;
    const inputBytes = (await stat(p.inputPath)).size;
    const outBytes = resultBytes(s.sequences ?? 0, classes);
    if (Math.max(inputBytes, outBytes) > queue.maxBytes) {
      throw new UsageError(
        `${s.id}: its ${inputBytes > outBytes ? `input (${p.inputPath})` : 'result'} is ${formatBytes(Math.max(inputBytes, outBytes))}, above --queue-max-bytes (${formatBytes(queue.maxBytes)})`,
        { hint: `use smaller shards (--shard-tokens, now ${JSON.stringify(plan.fingerprint.shardTokens)}) or raise --queue-max-bytes, then run again with --resume` },
      );
    }
  }
  const pendingIndices = new Set(pending.map((s) => (s.payload as ShardPayload).shard));
  const units: QueueUnit[] = pending.map((s) => ({ index: (s.payload as ShardPayload).shard, id: s.id, cost: s.cost, tokens: s.tokens ?? 0, sequences: s.sequences ?? 0 }));
  const payloads = new Map(pending.map((s) => [(s.payload as ShardPayload).shard, s.payload as ShardPayload]));
  const run = queueRunOf(queue, models, plan, {
    sweepMs: queue.sweepMs,
    // Results already in work/ (an interrupted session's): their jobs, if still in Redis, are removed.
    doneUnits: plan.shards.map((s) => s.index).filter((i) => !pendingIndices.has(i)),
    log: o.log,
    async workOf(unit): Promise<ShardJobWork> {
      const p = payloads.get(unit.index)!;
      const input = await readFile(p.inputPath, 'utf8');
      if (sha256Hex(input) !== p.inputSha256) {
        throw new InputError(`${p.inputPath}: shard input modified since it was planned (checksum mismatch)`, { hint: 'rerun with --resume: the damaged shard is planned again' });
      }
      return { shard: unit.index, frames: unit.sequences, tokens: unit.tokens, input, inputSha256: p.inputSha256, batchTokens };
    },
  });
  const dashboard = o.scheduler.dashboard ?? dashboardDefault(2);
  const board = dashboard ? new Dashboard(run, {}).start() : undefined;
  const log = (line: string): void => (board ? board.log(line) : o.log(line));
  run.on('log', log);
  // gpu_metrics.log and work/units.jsonl as a local run writes them, with devices named `host:device`.
  const metrics = recordMetrics(new DeviceTelemetry(run), {
    path: join(outDir, METRICS_LOG_NAME),
    intervalMs: 2000,
    warn: log,
    onSample: live ? (at, snapshot, rows) => live.sample(at, snapshot, rows) : undefined,
  });
  const writeUnit = unitLogWriter(workDir.path(UNIT_LOG_NAME), log);
  run.on('unit', (e) => {
    writeUnit(e);
    live?.unit(e);
  });
  // Ctrl-C or kill: the coordinator stops waiting; the jobs stay queued and the workers go on, so --resume collects them.
  const stopOnSignals = onInterrupt((e) => run.abort(e));
  let framesDone = 0;
  try {
    return await run.run(units, async (unit, r: UnitJobResult) => {
      const bytes = Buffer.from(r.result, 'base64');
      const planned = plan.shards[unit.index - 1];
      const check = decodeShardResult(bytes, { shard: unit.index, frames: planned.frames });
      if (!check.ok) return check.reason;
      // The bytes are the result file a local run writes (shard-worker encodes with encodeShardResult).
      await writeFileAtomic(workDir.path(shardResultName(unit.index)), bytes);
      framesDone += planned.frames;
      await holdPoint('compute');
      return undefined;
    });
  } catch (e) {
    if (e instanceof VirnucproError && (e.exitCode === ExitCode.sigint || e.exitCode === ExitCode.sigterm)) {
      throw new VirnucproError(`${e.message}; ${framesDone} frames of this session are saved, the rest stay queued`, {
        exitCode: e.exitCode,
        hint: `the workers go on with the queued units; collect them with the same command plus --resume (output directory ${outDir})`,
      });
    }
    throw e;
  } finally {
    stopOnSignals();
    metrics.stop();
    board?.stop();
  }
}

/**
 * A resumed queue run with every shard already done computes nothing, but removes what an interrupted session
 * left in Redis for it (finished jobs whose results it collected, the run's events and registration).
 */
export async function forgetQueuedRun({ queue, models, plan, log }: { queue: QueueSettings; models: ResolvedModels; plan: RunPlan; log: (line: string) => void }): Promise<void> {
  const run = queueRunOf(queue, models, plan, { log, workOf: async () => undefined });
  await run.forget(plan.shards.map((s) => s.index));
}
