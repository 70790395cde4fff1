/**
 * The worker side of queue mode (`virnucpro worker`): one BullMQ consumer per
 * device, each taking one unit at a time from the queue of the models this
 * worker holds (queue-names.ts), running it in the device's worker process
 * (device-slot.ts) and returning the result through Redis. This process only
 * moves data and renews locks; it never computes.
 *
 * Faults: a worker killed mid-unit stops renewing the unit's lock, and after
 * the lock duration another worker's stalled-job check puts the unit back in
 * the queue. A unit that throws is retried by BullMQ (the coordinator sets the
 * attempts); one whose device cannot run the models at all is given back
 * without counting an attempt and that device takes no more units.
 * SIGINT/SIGTERM: no new units, the ones in flight finish, then exit; a second
 * signal exits at once (the units in flight go back after the lock duration).
 *
 * Every second, and as a unit starts and ends, it publishes each device's
 * figures (registry.ts), with the gauges a local run's monitor measures of
 * such a device (nvidia-smi for CUDA GPUs, the device worker's CPU % and
 * memory for CPU devices), so that the coordinator's dashboard and
 * gpu_metrics.log show them under `host:device`.
 */
import { hostname } from 'node:os';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { NvidiaSmiMonitor } from '../monitor/nvidia-smi.js';
import { measureDevice } from '../monitor/telemetry.js';
import type { WorkerDevice } from '../scheduler/protocol.js';
import type { ShardDescriptor } from '../scheduler/types.js';
import { ResourceError } from '../util/errors.js';
import type { Log } from '../util/log.js';
import { holdPoint } from '../util/test-hold.js';
import { DeviceSlot, DeviceUnusableError } from './device-slot.js';
import { PREFIX, queueNameFor } from './queue-names.js';
import { checkRedis, openConnection, type QueueUrl } from './redis-connection.js';
import { publishWorker, readRuns, removeWorker, shortModels, type WorkerFigures } from './registry.js';
import { formatBytes, UNIT_JOB_VERSION, type UnitJobData, type UnitJobResult } from './unit-job.js';

/** What the pipeline supplies: how a job becomes a unit for the device worker, and its result a string. */
export interface QueueWorkHandler {
  /** The device worker's handler module (scheduler/protocol.ts, ShardHandlerModule). */
  module: string;
  /** The device worker's init for a job (it is restarted when this changes). */
  initFor(job: UnitJobData): unknown;
  /** The unit as the device worker takes it; cleanup() runs once it is done. */
  shardFor(job: UnitJobData): Promise<{ shard: ShardDescriptor; cleanup(): Promise<void> }>;
  /** The device worker's result, encoded for Redis (base64). */
  encode(result: unknown): string;
}

export interface ServeOptions {
  url: QueueUrl;
  /** How this worker appears in dashboards and run.json (default: the host name). */
  name?: string;
  devices: readonly WorkerDevice[];
  /** sha256 of the models this worker holds (pipeline/models.ts). */
  models: string;
  handler: QueueWorkHandler;
  /** How long a unit's lock lasts without renewal: how soon a killed worker's unit is taken again (ms). */
  lockMs: number;
  /** Slowdown factor per device index (scheduler/slowdown.ts), for simulated heterogeneous devices. */
  slowdownFor(index: number): number;
  log: Log;
}

/** How often figures are published, and how long they live without a refresh. */
const PUBLISH_MS = 1000;
const PUBLISH_TTL_MS = 10_000;
/** How long a run's registration counts as current without a refresh by its coordinator. */
const RUN_FRESH_MS = 60_000;

interface Consumer {
  slot: DeviceSlot;
  worker: Worker<UnitJobData, UnitJobResult>;
  figures: WorkerFigures;
}

export class QueueWorker {
  private readonly host: string;
  private readonly redis: Redis;
  private readonly consumers: Consumer[] = [];
  private publisher: NodeJS.Timeout | undefined;
  /** GPU figures, when a device is a CUDA GPU (as a local run's monitoring samples them). */
  private gpu: NvidiaSmiMonitor | undefined;
  private readonly saidRuns = new Set<string>();
  private closing: Promise<void> | null = null;
  private done!: () => void;
  /** Resolves when every consumer is closed. */
  readonly closed = new Promise<void>((resolve) => (this.done = resolve));

  constructor(private readonly o: ServeOptions) {
    this.host = o.name ?? hostname();
    let said = '';
    // ioredis reconnects by itself; say so once per distinct error rather than every retry.
    this.redis = openConnection(o.url, (message) => {
      if (message !== said) o.log(`warning: Redis at ${o.url.shown}: ${message} (reconnecting)`);
      said = message;
    });
  }

  /** Checks the connection, then starts consuming on every device. */
  async start(): Promise<void> {
    await checkRedis(this.o.url);
    const queue = queueNameFor(this.o.models);
    if (this.o.devices.some((d) => d.kind === 'cuda')) {
      this.gpu = new NvidiaSmiMonitor({ intervalMs: PUBLISH_MS }).start();
      this.gpu.on('unavailable', (why: string) => this.o.log(`GPU metrics unavailable: ${why}`));
    }
    for (const device of this.o.devices) {
      const slot = new DeviceSlot(device, this.o.handler.module, this.o.slowdownFor(device.index));
      const figures: WorkerFigures = {
        id: `${this.host}:${device.id}:${process.pid}`,
        host: this.host,
        device: device.id,
        deviceName: device.name,
        kind: device.kind,
        pid: process.pid,
        models: this.o.models,
        state: 'idle',
        job: null,
        jobStartedAt: null,
        units: 0,
        sequences: 0,
        tokens: 0,
        busyS: 0,
        gauges: {},
        at: Date.now(),
      };
      const consumer = { slot, figures } as Consumer;
      consumer.worker = new Worker<UnitJobData, UnitJobResult>(queue, (job, token) => this.process(consumer, job, token), {
        connection: this.redis,
        prefix: PREFIX,
        concurrency: 1,
        lockDuration: this.o.lockMs,
        stalledInterval: Math.max(500, Math.floor(this.o.lockMs / 2)),
        // A unit whose workers keep dying (killed hosts) is given up after this many stalls.
        maxStalledCount: 3,
        drainDelay: 1,
      });
      consumer.worker.on('error', (e) => this.o.log(`warning: ${this.host}:${device.id}: ${e.message}`));
      this.consumers.push(consumer);
    }
    this.o.log(
      `worker ${this.host}: ${this.o.devices.map((d) => d.id).join(', ')} serving models ${shortModels(this.o.models)} from ${this.o.url.shown} (queue ${queue})`,
    );
    await this.publish();
    this.publisher = setInterval(() => void this.publish(), PUBLISH_MS);
  }

  private async process(c: Consumer, job: Job<UnitJobData, UnitJobResult>, token: string | undefined): Promise<UnitJobResult> {
    const data = job.data;
    const label = `${this.host}:${c.slot.device.id}`;
    if (data.v !== UNIT_JOB_VERSION) throw new UnrecoverableError(`job ${job.id} is in format ${data.v}; this worker reads format ${UNIT_JOB_VERSION} (update virnucpro on every host)`);
    if (data.models !== this.o.models) {
      // Cannot happen through the queue's name (one queue per models); a job put there by hand goes back untouched.
      this.o.log(`${label}: job ${job.id} needs models ${shortModels(data.models)}, this worker has ${shortModels(this.o.models)}: given back`);
      await job.moveToDelayed(Date.now() + 5000, token);
      throw new DelayedError();
    }
    const started = performance.now();
    const startedAt = Date.now();
    c.figures.state = 'busy';
    c.figures.job = String(job.id);
    c.figures.jobStartedAt = startedAt;
    void this.publishOne(c);
    this.o.log(`${label}: run ${data.run} unit ${data.unit} started`);
    const { shard, cleanup } = await this.o.handler.shardFor(data);
    let result: unknown;
    try {
      await holdPoint('unit');
      result = await c.slot.run(this.o.handler.initFor(data), shard);
    } catch (e) {
      if (e instanceof DeviceUnusableError) {
        // The device, not the unit, is at fault: give the unit back uncounted and retire the device.
        this.o.log(`error: ${e.message}${e.error.hint ? ` (${e.error.hint})` : ''}; ${label} takes no more units`);
        c.figures.state = 'retired';
        await job.moveToDelayed(Date.now(), token);
        setImmediate(() => void this.retire(c));
        throw new DelayedError();
      }
      this.o.log(`${label}: run ${data.run} unit ${data.unit} failed (attempt ${job.attemptsMade + 1}): ${(e as Error).message}`);
      throw e;
    } finally {
      await cleanup();
      if (c.figures.state === 'busy') c.figures.state = 'idle';
      c.figures.job = null;
      c.figures.jobStartedAt = null;
    }
    const busyS = (performance.now() - started) / 1000;
    const encoded = this.o.handler.encode(result);
    if (encoded.length > data.maxBytes) {
      throw new UnrecoverableError(`the result of unit ${data.unit} is ${formatBytes(encoded.length)}, above the run's --queue-max-bytes (${formatBytes(data.maxBytes)})`);
    }
    c.figures.units++;
    c.figures.busyS += busyS;
    c.figures.tokens += shard.tokens ?? 0;
    c.figures.sequences += shard.sequences ?? 0;
    this.o.log(`${label}: run ${data.run} unit ${data.unit} done in ${busyS.toFixed(2)} s`);
    // Published before the result, so the coordinator's figures for this device are never older than its results.
    await this.publishOne(c);
    return {
      result: encoded,
      host: this.host,
      device: c.slot.device.id,
      deviceName: c.slot.device.name,
      busyS,
      startedAt,
      finishedAt: Date.now(),
      tokens: shard.tokens ?? 0,
      sequences: shard.sequences ?? 0,
    };
  }

  private async retire(c: Consumer): Promise<void> {
    await c.worker.close();
    await c.slot.stop();
    if (this.consumers.every((x) => x.figures.state === 'retired')) {
      this.o.log('error: no device of this worker can run the models; stopping');
      void this.close();
    }
  }

  /** Whether every device was retired (exit code 4). */
  get unusable(): boolean {
    return this.consumers.length > 0 && this.consumers.every((x) => x.figures.state === 'retired');
  }

  /** One device's figures, measured now; a Redis error is left to the connection's own warning (the next tick publishes again). */
  private async publishOne(c: Consumer): Promise<void> {
    const { id: device, kind } = c.slot.device;
    c.figures.gauges = measureDevice({ device, kind, cpuPercent: c.slot.cpuPercent, rssBytes: c.slot.rssBytes }, this.gpu);
    c.figures.at = Date.now();
    await publishWorker(this.redis, c.figures, PUBLISH_TTL_MS).catch(() => undefined);
  }

  /** Publishes every device's figures and says, once per run, when a run waits for other models. */
  private async publish(): Promise<void> {
    try {
      const now = Date.now();
      for (const c of this.consumers) await this.publishOne(c);
      for (const [run, entry] of await readRuns(this.redis)) {
        if (entry.models === this.o.models || now - entry.at > RUN_FRESH_MS || this.saidRuns.has(run)) continue;
        this.saidRuns.add(run);
        this.o.log(
          `run ${run} waits for models ${shortModels(entry.models)}; this worker has other models (${shortModels(this.o.models)}) and does not take its units`,
        );
      }
    } catch {
      // Redis is away: the connection's own warning says so, and the next tick publishes again.
    }
  }

  /** Stops taking units; with force, does not wait for the ones in flight. */
  close(force = false): Promise<void> {
    if (this.closing && !force) return this.closing;
    clearInterval(this.publisher);
    this.gpu?.stop();
    this.closing = (async () => {
      await Promise.all(this.consumers.map((c) => c.worker.close(force)));
      await Promise.all(this.consumers.map((c) => c.slot.stop()));
      await Promise.all(this.consumers.map((c) => removeWorker(this.redis, c.figures.id).catch(() => undefined)));
      this.redis.disconnect();
      this.done();
    })();
    return this.closing;
  }
}

/** Throws when the worker stopped because none of its devices can run the models (exit code 4). */
export function assertUsable(worker: QueueWorker): void {
  if (worker.unusable) {
    throw new ResourceError('no device of this worker can run the models', { hint: 'see the errors above; `virnucpro devices` says which devices work here' });
  }
}
