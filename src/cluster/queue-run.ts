/**
 * The coordinator side of queue mode: enqueues one BullMQ job per unit (ids
 * `<run>-<unit>`, so enqueueing again is a no-op), hands each result to the
 * caller as it arrives, and reports like the local coordinator (RunReport, with
 * each device's host). The work itself happens on whatever workers serve the
 * run's models (queue-worker.ts).
 *
 * Results arrive two ways: the queue's `completed` events (prompt), and a
 * sweep every few seconds over the units still missing (robust). The sweep is
 * what makes the faults recoverable: a job finished while no coordinator
 * listened (a resumed run) is collected; a job that no longer exists (Redis
 * restarted empty, or flushed) is enqueued again; a job that failed on every
 * attempt is reported with its reason. A unit failed by an earlier session is
 * enqueued afresh, as a local --resume retries missing shards.
 *
 * What a run leaves in Redis: nothing of its own. A job is removed once its
 * result is kept; at the start, the jobs of units whose results the caller
 * already has (an interrupted session's) are removed; at the end, every job of
 * the run that is left (failed ones, whose reasons the report carries) and
 * the run's entries in the queue's event stream (a unit's `completed` event
 * carries its result). What stays is the queue's own: `<queue>:meta` (its
 * settings), `<queue>:id` (BullMQ's job counter), `<queue>:events` (other
 * runs' events; at most about EVENTS_MAX_LEN are kept), `<queue>:marker`
 * (wakes the workers) and the short-lived `<queue>:stalled-check`. A job
 * still running elsewhere at the end (a copy another coordinator of the same
 * run enqueued) is left; the next run that needs it removes it.
 */
import { EventEmitter } from 'node:events';
import { Queue, QueueEvents, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { WatchedDevice, SnapshotSource } from '../monitor/telemetry.js';
import type { UnitEvent } from '../report/unit-events.js';
import type { DeviceRunFigures, FailedShard, RunReport } from '../scheduler/run-stats.js';
import type { DeviceKind } from '../scheduler/types.js';
import { jobIdFor, PREFIX, queueNameFor } from './queue-names.js';
import { openConnection, type QueueUrl } from './redis-connection.js';
import { readWorkers, registerRun, shortModels, unregisterRun, type WorkerFigures } from './registry.js';
import { UNIT_JOB_NAME, UNIT_JOB_VERSION, type UnitJobData, type UnitJobResult } from './unit-job.js';

export interface QueueUnit {
  /** The unit's index in the plan (part of its job id). */
  index: number;
  /** For logs and reports, e.g. `shard-3`. */
  id: string;
  cost: number;
  tokens: number;
  sequences: number;
}

export interface QueueRunOptions {
  url: QueueUrl;
  /** sha256 of the run's models: chooses the queue, checked by the workers. */
  models: string;
  runId: string;
  /** Attempts per unit before it goes to the failed list. */
  attempts: number;
  /** The job's `work` for a unit (read when it is enqueued, and again if it must be enqueued again). */
  workOf(unit: QueueUnit): Promise<unknown>;
  maxBytes: number;
  /** Milliseconds between sweeps (default 2000). */
  sweepMs?: number;
  /** Units of the run whose results the caller already has: jobs an earlier session left for them are removed. */
  doneUnits?: readonly number[];
  /** The run's log lines, when nothing listens to the 'log' event (the dashboard does, to print them above its table). */
  log: (line: string) => void;
}

/** The local coordinator's report, each device with the host (worker --name) it ran on. */
export type QueueRunReport = Omit<RunReport, 'devices'> & { devices: Array<DeviceRunFigures & { host: string }> };

/** What the caller does with a result: nothing to say when it is kept, else why it is refused (the unit is then enqueued again). */
export type OnQueueResult = (unit: QueueUnit, result: UnitJobResult) => Promise<string | undefined>;

interface UnitState {
  unit: QueueUnit;
  done: boolean;
  failed: FailedShard | null;
  /** Results refused by the caller (damaged in transit). */
  refused: number;
}

interface DeviceTally {
  host: string;
  device: string;
  name: string;
  shards: number;
  sequences: number;
  tokens: number;
  cost: number;
  busyS: number;
}

/**
 * How many events the queue's stream keeps (BullMQ's default is 10,000, each `completed` event holding a result):
 * the coordinator reads them as they come, and one it missed is found by its sweep.
 */
export const EVENTS_MAX_LEN = 200;

/** 'log': a line for the run's log; 'unit': a unit delivered (for work/units.jsonl, as a local run writes it). */
export class QueueRun extends EventEmitter<{ log: [string]; unit: [UnitEvent] }> implements SnapshotSource {
  private readonly redis: Redis;
  private readonly queue: Queue<UnitJobData, UnitJobResult>;
  private readonly units = new Map<string, UnitState>();
  private readonly tallies = new Map<string, DeviceTally>();
  private workers: WorkerFigures[] = [];
  private startedAt = performance.now();
  private lastResultAt = 0;
  /** The sweep under way, if any. */
  private sweeping: Promise<void> | null = null;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private settle: { resolve: () => void; reject: (e: unknown) => void } | null = null;
  private onResult: OnQueueResult = async () => undefined;
  private saidWaiting = '';
  private redisError = '';

  constructor(private readonly o: QueueRunOptions) {
    super();
    this.redis = openConnection(o.url, (message) => this.onRedisError(message));
    const name = queueNameFor(o.models);
    this.queue = new Queue(name, { connection: this.redis, prefix: PREFIX, streams: { events: { maxLen: EVENTS_MAX_LEN } } });
    this.queue.on('error', (e) => this.onRedisError(e.message));
  }

  private onRedisError(message: string): void {
    if (message === this.redisError) return;
    this.redisError = message;
    this.log(`warning: Redis at ${this.o.url.shown}: ${message} (reconnecting; the run continues when it is back)`);
  }

  private log(line: string): void {
    if (this.listenerCount('log') === 0) this.o.log(line);
    else this.emit('log', line);
  }

  private jobId(unit: QueueUnit): string {
    return jobIdFor(this.o.runId, unit.index);
  }

  /** Runs every unit; resolves with the report when each is done or failed. Rejects if onResult throws or on abort(). */
  async run(units: readonly QueueUnit[], onResult: OnQueueResult): Promise<QueueRunReport> {
    this.onResult = onResult;
    this.startedAt = performance.now();
    // Largest first (BullMQ hands out jobs in the order they were added): the units the run ends on are the small
    // ones, so a slow device that takes one of the last delays the end least (as the local LPT assignment).
    const order = [...units].sort((a, b) => b.cost - a.cost || a.index - b.index);
    for (const unit of order) this.units.set(this.jobId(unit), { unit, done: false, failed: null, refused: 0 });
    const finished = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    // QueueEvents blocks on its connection: it gets its own.
    const eventsRedis = openConnection(this.o.url, (message) => this.onRedisError(message));
    const events = new QueueEvents(this.queue.name, { connection: eventsRedis, prefix: PREFIX });
    events.on('error', (e) => this.onRedisError(e.message));
    // The event carries the result: collected without reading the job back (its data holds the unit's input).
    events.on('completed', ({ jobId, returnvalue }) => this.enqueueCheck(jobId, returnvalue as unknown as UnitJobResult | string));
    events.on('failed', ({ jobId }) => this.enqueueCheck(jobId));
    try {
      await events.waitUntilReady();
      await this.register();
      await this.removeJobs(this.o.doneUnits ?? []);
      await this.enqueue([...this.units.values()].filter((s) => !s.done), true);
      this.log(`queue: ${units.length} unit(s) of run ${this.o.runId} in ${this.queue.name} at ${this.o.url.shown}; waiting for workers with models ${shortModels(this.o.models)}`);
      this.timer = setInterval(() => void this.sweep(), this.o.sweepMs ?? 2000);
      void this.sweep();
      this.checkFinished();
      await finished;
      clearInterval(this.timer);
      await this.sweeping;
      await this.cleanUp();
      // The workers' latest figures, for the last row of gpu_metrics.log and the dashboard's last frame.
      this.workers = await readWorkers(this.redis).catch(() => this.workers);
      return this.report();
    } finally {
      clearInterval(this.timer);
      await events.close().catch(() => undefined);
      eventsRedis.disconnect();
      await this.close();
    }
  }

  /**
   * For a run whose every unit the caller already has (a resumed run with nothing left to compute): removes
   * what an interrupted session left in Redis (the units' jobs, the run's events and registration).
   */
  async forget(units: readonly number[]): Promise<void> {
    try {
      await this.queue.waitUntilReady();
      await this.removeJobs(units);
      await this.cleanUp();
    } finally {
      await this.close();
    }
  }

  private async close(): Promise<void> {
    await this.queue.close().catch(() => undefined);
    // BullMQ leaves connections it was given open.
    this.redis.disconnect();
  }

  /** Stops waiting: run() rejects with the reason. The jobs stay queued, so a resumed run collects them. */
  abort(reason: unknown): void {
    this.settle?.reject(reason);
  }

  /** Removes these units' jobs (a missing job, or one running elsewhere, is left as it is). */
  private async removeJobs(units: readonly number[]): Promise<void> {
    const BATCH = 256;
    for (let i = 0; i < units.length; i += BATCH) {
      await Promise.all(units.slice(i, i + BATCH).map((u) => this.queue.remove(jobIdFor(this.o.runId, u)).catch(() => 0)));
    }
  }

  /** The run is over: its jobs, its entries in the event stream and its registration leave Redis (see the header). */
  private async cleanUp(): Promise<void> {
    try {
      await this.removeJobs([...[...this.units.values()].map((s) => s.unit.index), ...(this.o.doneUnits ?? [])]);
      await this.removeOwnEvents();
      await unregisterRun(this.redis, this.o.runId);
    } catch (e) {
      this.log(`warning: Redis at ${this.o.url.shown}: could not remove the run's jobs (${(e as Error).message}); a later run removes them`);
    }
  }

  /** Deletes the event stream's entries about this run's jobs (other runs' entries stay for their coordinators). */
  private async removeOwnEvents(): Promise<void> {
    const key = this.queue.keys.events;
    const ours = `${this.o.runId}-`;
    let from = '-';
    for (;;) {
      const page = await this.redis.xrange(key, from, '+', 'COUNT', 500);
      const ids = page.filter(([, fields]) => fields.some((f, k) => k % 2 === 1 && fields[k - 1] === 'jobId' && f.startsWith(ours))).map(([id]) => id);
      if (ids.length > 0) await this.redis.xdel(key, ...ids);
      if (page.length < 500) return;
      from = `(${page[page.length - 1][0]}`;
    }
  }

  private async register(): Promise<void> {
    const pending = [...this.units.values()].filter((s) => !s.done && !s.failed).length;
    await registerRun(this.redis, this.o.runId, { models: this.o.models, queue: this.queue.name, units: pending, at: Date.now() });
  }

  /**
   * Adds the jobs of these units. Adding an id that exists does nothing, so only jobs that are missing are
   * created; at the start, a job an earlier session left failed is removed first, so the unit is tried afresh.
   */
  private async enqueue(states: UnitState[], atStart: boolean): Promise<void> {
    const BATCH = 32;
    for (let i = 0; i < states.length; i += BATCH) {
      const batch = states.slice(i, i + BATCH);
      if (atStart) {
        const states = await Promise.all(batch.map((s) => this.queue.getJobState(this.jobId(s.unit))));
        await Promise.all(batch.map((s, k) => (states[k] === 'failed' ? this.queue.remove(this.jobId(s.unit)) : undefined)));
      }
      const jobs = await Promise.all(
        batch.map(async (s) => ({
          name: UNIT_JOB_NAME,
          data: { v: UNIT_JOB_VERSION, run: this.o.runId, unit: s.unit.index, models: this.o.models, work: await this.o.workOf(s.unit), maxBytes: this.o.maxBytes },
          opts: { jobId: this.jobId(s.unit), attempts: this.o.attempts, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: false, removeOnFail: false },
        })),
      );
      await this.queue.addBulk(jobs);
    }
  }

  /** Looks at a job now (an event named it): results are handled one at a time, in arrival order. */
  private enqueueCheck(jobId: string, returnvalue?: UnitJobResult | string): void {
    const state = this.units.get(jobId);
    if (!state || state.done || state.failed) return;
    const result = typeof returnvalue === 'string' ? (JSON.parse(returnvalue) as UnitJobResult) : returnvalue;
    void this.serial(() => (result?.result ? this.collect(state, result) : this.check(state)));
  }

  /** Runs fn after the checks before it; a Redis error is logged (the next sweep looks again), never fatal. */
  private serial(fn: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(fn).catch((e: unknown) => this.onRedisError((e as Error).message));
    return this.chain;
  }

  private async check(state: UnitState): Promise<void> {
    if (state.done || state.failed) return;
    const job = await this.queue.getJob(this.jobId(state.unit));
    if (!job) return;
    const now = await job.getState();
    if (now === 'completed') await this.collect(state, job.returnvalue);
    else if (now === 'failed') this.fail(state, job);
  }

  private async collect(state: UnitState, r: UnitJobResult): Promise<void> {
    if (state.done || state.failed) return;
    const jobId = this.jobId(state.unit);
    let refused: string | undefined;
    try {
      refused = await this.onResult(state.unit, r);
    } catch (e) {
      // The caller could not keep it (disk full, ...): that ends the run, as locally.
      this.settle?.reject(e);
      return;
    }
    if (refused !== undefined) {
      state.refused++;
      this.log(`${state.unit.id}: result from ${r.host}:${r.device} refused (${refused})${state.refused < this.o.attempts ? '; enqueued again' : ''}`);
      await this.queue.remove(jobId);
      if (state.refused >= this.o.attempts) {
        state.failed = { id: state.unit.id, attempts: state.refused, devices: [`${r.host}:${r.device}`], errors: [refused] };
        this.checkFinished();
      } else await this.enqueue([state], false);
      return;
    }
    state.done = true;
    this.lastResultAt = performance.now();
    const key = `${r.host}:${r.device}`;
    const end = r.finishedAt ?? Date.now();
    this.emit('unit', { unit: state.unit.id, device: key, start: r.startedAt ?? end - r.busyS * 1000, end, stolen: false, backup: false });
    const t = this.tallies.get(key) ?? { host: r.host, device: r.device, name: r.deviceName, shards: 0, sequences: 0, tokens: 0, cost: 0, busyS: 0 };
    t.shards++;
    t.sequences += r.sequences;
    t.tokens += r.tokens;
    t.cost += state.unit.cost;
    t.busyS += r.busyS;
    this.tallies.set(key, t);
    // The result is on disk now: Redis need not keep it (a job missing later is simply enqueued again if needed).
    await this.queue.remove(jobId).catch(() => undefined);
    this.checkFinished();
  }

  private fail(state: UnitState, job: Job<UnitJobData, UnitJobResult>): void {
    const reason = job.failedReason || 'failed';
    state.failed = { id: state.unit.id, attempts: job.attemptsMade, devices: [], errors: [reason] };
    this.log(`${state.unit.id}: failed on ${job.attemptsMade} attempt(s): ${reason}`);
    this.checkFinished();
  }

  private checkFinished(): void {
    if ([...this.units.values()].every((s) => s.done || s.failed)) this.settle?.resolve();
  }

  /** Every unit not yet done, looked at in Redis; missing jobs enqueued again; who is serving, said when nobody is. */
  private sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce().finally(() => (this.sweeping = null));
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    try {
      await this.register();
      // One burst of state queries (sent together on the connection), then a look at the finished ones.
      const open = [...this.units.values()].filter((s) => !s.done && !s.failed);
      const now = await Promise.all(open.map((s) => this.queue.getJobState(this.jobId(s.unit))));
      for (const [k, state] of open.entries()) {
        if (now[k] === 'completed' || now[k] === 'failed') await this.serial(() => this.check(state));
      }
      // A unit collected meanwhile had its job removed once it was marked done: it is not missing.
      const missing = open.filter((s, k) => now[k] === 'unknown' && !s.done && !s.failed);
      if (missing.length > 0) {
        this.log(`queue: ${missing.length} unit(s) missing from Redis (restarted or flushed?): enqueued again`);
        await this.enqueue(missing, false);
      }
      this.workers = await readWorkers(this.redis);
      this.sayWhoServes();
      this.redisError = '';
    } catch (e) {
      this.onRedisError((e as Error).message);
    }
  }

  /** When no worker serves these models, says so once, naming the workers that have other models. */
  private sayWhoServes(): void {
    const serving = this.workers.filter((w) => w.models === this.o.models && w.state !== 'retired');
    const others = this.workers.filter((w) => w.models !== this.o.models);
    const now = serving.length > 0 ? 'ok' : others.map((w) => w.id).join(',') || 'none';
    if (now === this.saidWaiting) return;
    this.saidWaiting = now;
    if (serving.length > 0) this.log(`queue: ${serving.length} device(s) serve these models: ${serving.map((w) => `${w.host}:${w.device}`).join(', ')}`);
    else if (others.length > 0) {
      this.log(
        `queue: waiting: no worker has models ${shortModels(this.o.models)}; worker(s) with other models: ` +
          others.map((w) => `${w.host}:${w.device} (models ${shortModels(w.models)})`).join(', ') +
          ' (start `virnucpro worker` with the models this run uses)',
      );
    } else this.log(`queue: waiting: no worker connected to ${this.o.url.shown} (start \`virnucpro worker --queue URL ...\` on the GPU hosts)`);
  }

  /** The live view: one row per `host:device` that serves the run's models or delivered for it. */
  snapshot(): ReturnType<SnapshotSource['snapshot']> {
    const states = [...this.units.values()];
    const rows = new Map<string, WatchedDevice>();
    for (const w of this.workers.filter((x) => x.models === this.o.models)) {
      const key = `${w.host}:${w.device}`;
      const t = this.tallies.get(key);
      const ours = w.job?.startsWith(`${this.o.runId}-`) ?? false;
      rows.set(key, {
        device: key,
        name: w.deviceName,
        kind: w.kind,
        state: w.state === 'busy' ? 'busy' : w.state === 'retired' ? 'retired' : 'idle',
        weight: 1,
        queueDepth: 0,
        inFlight: ours ? w.job : null,
        shardsDone: t?.shards ?? 0,
        sequencesDone: t?.sequences ?? 0,
        tokensDone: t?.tokens ?? 0,
        stolenIn: 0,
        stolenOut: 0,
        busyS: t?.busyS ?? 0,
        // Measured on the worker's host, as a local run's monitor measures its own devices.
        gauges: w.gauges,
      });
    }
    for (const [key, t] of this.tallies) {
      if (!rows.has(key)) rows.set(key, { device: key, name: t.name, kind: kindOf(t.device), state: 'stopped', weight: 1, queueDepth: 0, inFlight: null, shardsDone: t.shards, sequencesDone: t.sequences, tokensDone: t.tokens, stolenIn: 0, stolenOut: 0, busyS: t.busyS });
    }
    return {
      elapsedS: (performance.now() - this.startedAt) / 1000,
      shardsTotal: states.length,
      shardsDone: states.filter((s) => s.done).length,
      shardsFailed: states.filter((s) => s.failed).length,
      costTotal: states.reduce((a, s) => a + s.unit.cost, 0),
      costDone: states.filter((s) => s.done).reduce((a, s) => a + s.unit.cost, 0),
      devices: [...rows.values()].sort((a, b) => a.device.localeCompare(b.device)),
      steals: 0,
      recentSteals: [],
    };
  }

  private report(): QueueRunReport {
    const states = [...this.units.values()];
    const makespan = this.lastResultAt > 0 ? (this.lastResultAt - this.startedAt) / 1000 : 0;
    const devices: Array<DeviceRunFigures & { host: string }> = [...this.tallies.values()]
      .sort((a, b) => `${a.host}:${a.device}`.localeCompare(`${b.host}:${b.device}`))
      .map((t) => ({
        host: t.host,
        device: t.device,
        name: t.name,
        weight: 1,
        shards: t.shards,
        sequences: t.sequences,
        tokens: t.tokens,
        cost: t.cost,
        stolen_in: 0,
        stolen_out: 0,
        backups: 0,
        busy_s: round(t.busyS),
        unused_s: 0,
        idle_s: round(Math.max(0, makespan - t.busyS)),
        restarts: 0,
        failures: 0,
      }));
    const failed = states.flatMap((s) => (s.failed ? [s.failed] : []));
    return {
      complete: failed.length === 0,
      shards_total: states.length,
      shards_done: states.filter((s) => s.done).length,
      failed,
      devices,
      makespan_s: makespan,
      startup_s: 0,
      steals: [],
      backups: [],
      options: { work_stealing: false, backup_tasks: false, gpu_weighted: false, weight_source: 'queue', steal_interval_s: 0 },
    };
  }
}

function kindOf(device: string): DeviceKind {
  const k = device.split(':')[0];
  return k === 'cuda' || k === 'webgpu' ? k : 'cpu';
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
