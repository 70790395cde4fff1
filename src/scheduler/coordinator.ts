/**
 * The coordinator: owns the per-device queues and carries out the run. It
 * never changes what a shard computes, so results are the same for any
 * devices and flags. Its parts, each in its own module:
 *
 *   supervisor.ts  the workers: start, restart, retire, stop
 *   policy.ts      the decisions, as pure functions over a snapshot: weights,
 *                  initial queues, steals, backup tasks, requeues, stalls
 *   run-stats.ts   the figures: live snapshot, report (run.json)
 *
 * Life of a run: start one worker per device and wait for them to load their
 * models (and calibrate, with --gpu-weighted) -> assign shards to queues by
 * weight -> send each worker one shard at a time -> on each result, hand it to
 * onResult (awaited, serialized) and send the next, stealing when a queue runs
 * dry and running backup copies at the tail (--work-stealing) -> stop the
 * workers and report. Signals are the caller's: it calls abort(reason).
 */
import { EventEmitter } from 'node:events';
import { ResourceError } from '../util/errors.js';
import { systemClock, type Clock } from './clock.js';
import { childProcessLauncher } from './child-transport.js';
import { DEFAULT_STEAL_INTERVAL_S, STEAL_INTERVAL_S } from './limits.js';
import {
  chooseBackup,
  chooseSteal,
  chooseWeights,
  estimateRates,
  initialQueues,
  isStalled,
  requeueTarget,
  type SchedulingView,
} from './policy.js';
import type { WorkerDevice, WorkerError, WorkerLauncher } from './protocol.js';
import { RunStats, type BackupEvent, type CoordinatorSnapshot, type DeviceState, type RunReport, type StealEvent } from './run-stats.js';
import { MAX_WORKER_RESTARTS, WorkerSupervisor, type WorkerLoss, type WorkMessage } from './supervisor.js';
import type { DeviceSpec, ShardDescriptor } from './types.js';

export type { BackupEvent, CoordinatorSnapshot, DeviceRunFigures, DeviceSnapshot, DeviceState, FailedShard, RunReport, StealEvent } from './run-stats.js';

export interface CoordinatorOptions {
  devices: DeviceSpec[];
  /** Worker-side module exporting createShardHandler(init, device), and its init object. */
  handler: { module: string; init: unknown };
  /** An idle device takes the tail shard of the queue that will finish last (default off; policy.ts, chooseSteal). */
  workStealing?: boolean;
  /** At the tail, an idle device runs a copy of a shard a much slower device still runs (default: as workStealing; policy.ts, chooseBackup). */
  backupTasks?: boolean;
  /** Initial assignment proportional to device weights (default off: equal split by cost). */
  gpuWeighted?: boolean;
  /** Explicit weights, one per device (--gpu-weights); implies gpuWeighted. */
  weights?: number[];
  /** With gpuWeighted and no explicit weights: calibrate on each device (default true), else use the GPU table. */
  calibrate?: boolean;
  /** Seconds between rebalancing checks (default DEFAULT_STEAL_INTERVAL_S; within STEAL_INTERVAL_S, limits.ts). */
  stealIntervalS?: number;
  /** Attempts per shard before it is reported as failed (default 3). A permanent device error (protocol.ts, ErrorKind) retires the device instead and does not count. */
  maxAttempts?: number;
  /** Listens to the 'log' event (the one channel for log lines; with no listener they go to stderr). */
  log?: (line: string) => void;
  /** Environment the slowdown knob is read from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Where workers run (default: one child process per device; memory-transport.ts for tests). */
  launcher?: WorkerLauncher;
  /** Time and timers (default the system clock; clock.ts ManualClock for tests). */
  clock?: Clock;
}

export interface DispatchEvent {
  shard: string;
  device: string;
  /** The worker's process id, where it has one. */
  pid: number | undefined;
  /** Copies of this shard started so far, this one included. */
  attempt: number;
  /** A backup copy of a shard another device still runs. */
  backup: boolean;
}

/** The coordinator's events and their arguments. */
export interface CoordinatorEvents {
  /** A line for the user (the only channel for them). */
  log: [line: string];
  dispatch: [DispatchEvent];
  result: [{ shard: string; device: string }];
  steal: [StealEvent];
  backup: [BackupEvent];
  stall: [{ device: string }];
  failed: [{ shard: string }];
  'worker-exit': [{ device: string; code: number | null; signal: NodeJS.Signals | null }];
}

export type OnResult = (shard: ShardDescriptor, result: unknown, device: DeviceSpec) => void | Promise<void>;

/** A shard of this run and what happened to it; the policy reads it as a UnitView. */
interface Unit {
  readonly shard: ShardDescriptor;
  readonly id: string;
  readonly cost: number;
  /** Copies started (originals, retries and backups). */
  attempts: number;
  /** Devices (by index) it failed on. */
  readonly failedOn: Set<number>;
  readonly errors: string[];
  /** Devices running a copy now. */
  readonly running: Set<number>;
  /** Its result was delivered (or it was given up): copies still running are unused. */
  done: boolean;
  backedUp: boolean;
}

/** A copy of a unit running on a device. */
interface Copy {
  unit: Unit;
  startedAt: number;
}

/** The coordinator's record of one device: its state and queue. */
interface DeviceEntry {
  spec: WorkerDevice;
  state: DeviceState;
  weight: number;
  queue: Unit[];
  inFlight: Copy | null;
  /** When it last started or finished a shard (stall detection). */
  lastProgressAt: number;
}

/** How often devices are checked for stalls (the stall timeout is policy.ts's). */
const STALL_CHECK_S = 1;

export class Coordinator extends EventEmitter<CoordinatorEvents> {
  private readonly opts: Required<Omit<CoordinatorOptions, 'weights' | 'log' | 'env' | 'launcher' | 'clock'>> & Pick<CoordinatorOptions, 'weights'>;
  private readonly clock: Clock;
  private readonly devices: DeviceEntry[];
  private readonly supervisor: WorkerSupervisor;
  private readonly stats: RunStats;
  /** Devices retired by a permanent error, with that error (for the run's error when no device is left). */
  private readonly unusable: Array<{ device: string; error: WorkerError }> = [];
  private weightSource = 'equal';
  private weightsAreRates = false;
  private running = false;
  private finishing = false;
  private resultChain: Promise<void> = Promise.resolve();
  private settle: { resolve: () => void; reject: (e: unknown) => void } | null = null;
  /** Why the run was aborted (onResult threw, abort(), no usable device), rethrown by run(). */
  private abortReason: { error: unknown } | null = null;
  private onResult: OnResult = () => undefined;

  constructor(options: CoordinatorOptions) {
    super();
    if (options.devices.length === 0) throw new ResourceError('no devices to run on');
    if (options.weights && options.weights.length !== options.devices.length) {
      throw new Error(`weights: ${options.weights.length} weights for ${options.devices.length} devices`);
    }
    const stealIntervalS = options.stealIntervalS ?? DEFAULT_STEAL_INTERVAL_S;
    // Node's timers fire at once above 2^31 - 1 ms; the CLI refuses such values (limits.ts), library callers must too.
    if (!(stealIntervalS >= STEAL_INTERVAL_S.min && stealIntervalS <= STEAL_INTERVAL_S.max)) {
      throw new RangeError(`stealIntervalS must be from ${STEAL_INTERVAL_S.min} to ${STEAL_INTERVAL_S.max}, got ${stealIntervalS}`);
    }
    const workStealing = options.workStealing ?? false;
    this.opts = {
      devices: options.devices,
      handler: options.handler,
      workStealing,
      backupTasks: options.backupTasks ?? workStealing,
      gpuWeighted: (options.gpuWeighted ?? false) || options.weights !== undefined,
      weights: options.weights,
      calibrate: options.calibrate ?? true,
      stealIntervalS,
      maxAttempts: options.maxAttempts ?? 3,
    };
    if (options.log) this.on('log', options.log);
    this.clock = options.clock ?? systemClock;
    this.devices = options.devices.map((spec, index) => ({ spec: { ...spec, index }, state: 'starting', weight: 1, queue: [], inFlight: null, lastProgressAt: 0 }));
    this.stats = new RunStats(this.devices.length, this.clock);
    this.supervisor = new WorkerSupervisor({
      devices: this.devices.map((d) => d.spec),
      launcher: options.launcher ?? childProcessLauncher(),
      handler: options.handler,
      env: options.env ?? process.env,
      clock: this.clock,
      hooks: {
        message: (i, m) => this.onWorkMessage(this.devices[i], m),
        died: (i, loss) => this.onWorkerDied(this.devices[i], loss),
        restarted: (i) => this.onWorkerRestarted(this.devices[i]),
        restartFailed: (i, error) => this.retire(this.devices[i], `worker failed to restart: ${error.message}`, error),
      },
    });
  }

  /** A line for the user, through the 'log' event (to stderr when nobody listens). */
  log(line: string): void {
    if (this.listenerCount('log') === 0) process.stderr.write(`${line}\n`);
    else this.emit('log', line);
  }

  /**
   * Runs every shard once, calling onResult (awaited, one at a time) with each
   * result. Resolves with the report when every shard is done or has failed;
   * rejects if onResult throws, if no worker starts, if no device can run the
   * work, or with the reason given to abort().
   */
  async run(shards: readonly ShardDescriptor[], onResult: OnResult): Promise<RunReport> {
    if (this.running) throw new Error('Coordinator.run is already running');
    this.throwIfAborted();
    const ids = new Set<string>();
    for (const s of shards) {
      if (ids.has(s.id)) throw new Error(`duplicate shard id '${s.id}'`);
      ids.add(s.id);
    }
    this.running = true;
    this.onResult = onResult;
    this.stats.expect(shards);
    const started = this.clock.now();
    const stopTimers: Array<() => void> = [];
    try {
      await this.startWorkers();
      const startupS = this.clock.now() - started;
      const done = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
      this.stats.startScheduling();
      this.assign(shards);
      this.supervisor.supervise();
      stopTimers.push(this.clock.every(STALL_CHECK_S, () => this.checkStalls()));
      stopTimers.push(this.clock.every(this.opts.stealIntervalS, () => this.rebalance()));
      for (const d of this.devices) this.dispatchNext(d);
      this.checkFinished();
      await done;
      await this.resultChain;
      this.throwIfAborted();
      // Workers still computing hold copies another device already delivered: they are stopped, not waited for.
      for (const d of this.devices) if (d.inFlight) this.stats.ranWithoutResult(d.spec.index, this.clock.now() - d.inFlight.startedAt, 'unused');
      await this.supervisor.shutdown((i) => this.devices[i].inFlight === null);
      this.markStopped();
      return this.stats.report(this.devices, startupS, {
        work_stealing: this.opts.workStealing,
        backup_tasks: this.opts.backupTasks,
        gpu_weighted: this.opts.gpuWeighted,
        weight_source: this.weightSource,
        steal_interval_s: this.opts.stealIntervalS,
      });
    } catch (e) {
      await this.supervisor.shutdown(() => false);
      this.markStopped();
      throw e;
    } finally {
      for (const stop of stopTimers) stop();
      this.supervisor.dispose();
      this.settle = null;
      this.running = false;
    }
  }

  /**
   * Ends the run now: the workers are stopped (SIGTERM) and run() rejects with `reason`. Results
   * already handed to onResult stay; the rest is not computed. The pipeline calls this on SIGINT/SIGTERM.
   */
  abort(reason: Error): void {
    if (this.abortReason) return;
    if (this.running) {
      const live = this.live().length;
      this.log(`${reason.message}: stopping ${live} worker${live === 1 ? '' : 's'} (${this.stats.shardsDone} of ${this.stats.shardsTotal} shards done)`);
    }
    this.fail(reason);
    this.supervisor.killAll('SIGTERM');
  }

  /** The live state, for the dashboard and the metrics log. */
  snapshot(): CoordinatorSnapshot {
    return this.stats.snapshot(
      this.devices.map((d) => ({
        spec: d.spec,
        state: d.state,
        weight: d.weight,
        queueDepth: d.queue.length,
        inFlight: d.inFlight && { shard: d.inFlight.unit.id, startedAt: d.inFlight.startedAt },
      })),
    );
  }

  // ---- starting ----------------------------------------------------------------------------------

  private async startWorkers(): Promise<void> {
    const wantCalibration = this.opts.gpuWeighted && this.opts.weights === undefined && this.opts.calibrate;
    const outcomes = await this.supervisor.startAll(wantCalibration);
    this.throwIfAborted();
    const errors: Array<{ device: string; error: WorkerError }> = [];
    outcomes.forEach((o, i) => {
      const d = this.devices[i];
      if ('error' in o) {
        errors.push({ device: d.spec.id, error: o.error });
        d.state = 'retired';
        this.supervisor.retire(i);
        this.log(`device ${d.spec.id} did not start: ${o.error.message}`);
      } else {
        d.state = 'idle';
        d.lastProgressAt = this.clock.now();
      }
    });
    if (this.live().length === 0) {
      throw new ResourceError(`no worker started (${errors.map((e) => `${e.device}: ${e.error.message}`).join('; ')})`, {
        hint: errors.find((e) => e.error.hint !== undefined)?.error.hint,
      });
    }
    const choice = chooseWeights({
      ids: this.devices.map((d) => d.spec.id),
      live: this.devices.map((d) => d.state !== 'retired'),
      explicit: this.opts.weights,
      weighted: this.opts.gpuWeighted,
      calibrate: this.opts.calibrate,
      calibrations: outcomes.map((o) => ('calibration' in o ? o.calibration : undefined)),
      table: this.devices.map((d) => d.spec.tableWeight),
    });
    this.devices.forEach((d, i) => (d.weight = choice.weights[i]));
    this.weightSource = choice.source;
    this.weightsAreRates = choice.areRates;
  }

  private assign(shards: readonly ShardDescriptor[]): void {
    const live = this.live();
    const units: Unit[] = shards.map((shard) => ({
      shard,
      id: shard.id,
      cost: shard.cost,
      attempts: 0,
      failedOn: new Set(),
      errors: [],
      running: new Set(),
      done: false,
      backedUp: false,
    }));
    const queues = initialQueues(
      shards.map((s) => s.cost),
      live.map((d) => d.weight),
    );
    queues.forEach((q, i) => (live[i].queue = q.map((k) => units[k])));
    const balancing = this.opts.workStealing ? (this.opts.backupTasks ? 'work stealing, backup tasks' : 'work stealing') : this.opts.backupTasks ? 'backup tasks' : 'no stealing';
    this.log(`scheduling ${shards.length} shards on ${live.length} devices (${this.opts.gpuWeighted ? 'weighted' : 'static'}, ${balancing}; weights: ${this.weightSource})`);
    for (const d of live) {
      const cost = d.queue.reduce((a, u) => a + u.cost, 0);
      this.log(`  ${d.spec.id} ${d.spec.name}: weight ${fmt(d.weight)}, ${d.queue.length} shards, estimated cost ${cost.toExponential(3)}`);
    }
  }

  // ---- dispatch and results ----------------------------------------------------------------------

  /** Gives an idle device its next shard: from its queue, else stolen, else a backup copy. */
  private dispatchNext(d: DeviceEntry): void {
    if (!this.settle || this.finishing || d.inFlight || !this.supervisor.isReady(d.spec.index)) return;
    if (d.state !== 'idle' && d.state !== 'busy') return;
    if (d.queue.length === 0 && this.findWork(d)) return;
    const unit = d.queue.shift();
    if (!unit) {
      d.state = 'idle';
      return;
    }
    this.start(d, unit, false);
  }

  /**
   * For a device whose queue ran dry: steals a shard into its queue (false: dispatch it), or starts a
   * backup copy (true). Without --work-stealing only stalled devices' work is open to it.
   */
  private findWork(thief: DeviceEntry): boolean {
    const onlyStalled = !this.opts.workStealing;
    if (onlyStalled && !this.devices.some((x) => x.state === 'stalled')) return false;
    const view = this.view();
    const rates = estimateRates(view);
    const steal = chooseSteal(view, rates, thief.spec.index, { onlyStalled });
    if (steal) {
      const victim = this.devices[steal.victim];
      const [unit] = victim.queue.splice(steal.position, 1);
      thief.queue.push(unit);
      const event = this.stats.steal(victim.spec, thief.spec, unit.id);
      this.log(`steal t=${event.t.toFixed(1)}s shard ${event.shard}: ${event.from}${victim.state === 'stalled' ? ' (stalled)' : ''} -> ${event.to}`);
      this.emit('steal', event);
      return false;
    }
    const backup = chooseBackup(view, rates, thief.spec.index, { onlyStalled: onlyStalled || !this.opts.backupTasks });
    if (!backup) return false;
    const owner = this.devices[backup.owner];
    const unit = owner.inFlight!.unit;
    unit.backedUp = true;
    const event = this.stats.backupStarted(owner.spec.id, thief.spec, unit.id);
    this.log(`backup t=${event.t.toFixed(1)}s shard ${unit.id}: ${owner.spec.id}${owner.state === 'stalled' ? ' (stalled)' : ''} still runs it, ${thief.spec.id} runs a copy`);
    this.emit('backup', event);
    this.start(thief, unit, true);
    return true;
  }

  private start(d: DeviceEntry, unit: Unit, backup: boolean): void {
    const t = this.clock.now();
    unit.attempts++;
    unit.running.add(d.spec.index);
    d.inFlight = { unit, startedAt: t };
    d.state = 'busy';
    d.lastProgressAt = t;
    this.emit('dispatch', { shard: unit.id, device: d.spec.id, pid: this.supervisor.pid(d.spec.index), attempt: unit.attempts, backup });
    this.supervisor.send(d.spec.index, { type: 'shard', shard: unit.shard });
  }

  private onWorkMessage(d: DeviceEntry, m: WorkMessage): void {
    switch (m.type) {
      case 'stats':
        this.stats.resources(d.spec.index, m.cpuPercent, m.rssBytes);
        return;
      case 'result':
        this.stats.resources(d.spec.index, m.cpuPercent, m.rssBytes);
        this.onShardResult(d, m.shardId, m.result);
        return;
      case 'shard-error':
        if (m.error.kind === 'permanent') {
          this.onDeviceUnusable(d, m.shardId, m.error);
        } else {
          this.onShardFailure(d, m.shardId, m.error.message);
          this.dispatchNext(d);
        }
        return;
    }
  }

  /** Ends device d's copy of a shard; null when d is not running that shard. */
  private endCopy(d: DeviceEntry, shardId: string): { unit: Unit; seconds: number } | null {
    const copy = d.inFlight;
    if (!copy || copy.unit.id !== shardId) return null;
    const t = this.clock.now();
    d.inFlight = null;
    d.lastProgressAt = t;
    copy.unit.running.delete(d.spec.index);
    if (d.state !== 'retired' && d.state !== 'restarting') d.state = 'idle';
    return { unit: copy.unit, seconds: t - copy.startedAt };
  }

  private onShardResult(d: DeviceEntry, shardId: string, result: unknown): void {
    const wasStalled = d.state === 'stalled';
    const ended = this.endCopy(d, shardId);
    if (!ended) return;
    const { unit, seconds } = ended;
    if (wasStalled) this.log(`device ${d.spec.id} is making progress again`);
    if (unit.done) {
      // The other copy of a backed-up shard delivered first: this result is the same and unused.
      this.stats.ranWithoutResult(d.spec.index, seconds, 'unused');
      this.dispatchNext(d);
      return;
    }
    unit.done = true;
    this.stats.delivered(d.spec.index, unit.shard, seconds);
    if (unit.backedUp) {
      this.stats.backupWon(unit.id, d.spec.id);
      const others = [...unit.running].map((i) => this.devices[i].spec.id);
      if (others.length > 0) this.log(`backup: shard ${unit.id} delivered by ${d.spec.id}; the copy on ${others.join(', ')} is no longer needed`);
    }
    this.dispatchNext(d); // keep the device busy while onResult writes the result
    this.emit('result', { shard: unit.id, device: d.spec.id });
    const spec: DeviceSpec = d.spec;
    this.resultChain = this.resultChain
      .then(() => this.onResult(unit.shard, result, spec))
      .then(
        () => this.checkFinished(),
        (e: unknown) => this.fail(e),
      );
  }

  /** A copy failed on device d (handler error or worker death): retry elsewhere, or give up on the shard. */
  private onShardFailure(d: DeviceEntry, shardId: string, message: string): void {
    const ended = this.endCopy(d, shardId);
    if (!ended) return;
    const { unit, seconds } = ended;
    if (unit.done) {
      this.stats.ranWithoutResult(d.spec.index, seconds, 'unused');
      return;
    }
    this.stats.ranWithoutResult(d.spec.index, seconds, 'failed');
    unit.failedOn.add(d.spec.index);
    unit.errors.push(`${d.spec.id}: ${message}`);
    if (unit.running.size > 0) {
      const others = [...unit.running].map((i) => this.devices[i].spec.id).join(', ');
      this.log(`shard ${shardId} failed on ${d.spec.id} (${message}); its copy on ${others} still runs`);
    } else if (unit.attempts >= this.opts.maxAttempts) {
      this.giveUp(unit, `failed ${unit.attempts} times`);
    } else {
      this.log(`shard ${shardId} failed on ${d.spec.id} (${message}); retrying (attempt ${unit.attempts + 1} of ${this.opts.maxAttempts})`);
      this.requeue(unit, d);
    }
    this.checkFinished();
  }

  /**
   * A permanent error on device d (protocol.ts, ErrorKind): no retry there can help, and the shard is not
   * to blame. The device is retired at once; the shard goes back to the head of its queue, uncounted,
   * and retire() hands that queue to the other devices.
   */
  private onDeviceUnusable(d: DeviceEntry, shardId: string, error: WorkerError): void {
    const ended = this.endCopy(d, shardId);
    if (!ended) return;
    const { unit, seconds } = ended;
    this.stats.ranWithoutResult(d.spec.index, seconds, 'failed');
    if (!unit.done) {
      unit.attempts--;
      unit.failedOn.add(d.spec.index);
      unit.errors.push(`${d.spec.id}: ${error.message}`);
      if (unit.running.size === 0) d.queue.unshift(unit);
    }
    this.retire(d, `it cannot run this work (${error.message})`, error);
  }

  private giveUp(unit: Unit, why: string): void {
    unit.done = true;
    this.stats.gaveUp({ id: unit.id, attempts: unit.attempts, devices: [...unit.failedOn].map((i) => this.devices[i].spec.id), errors: unit.errors });
    this.log(`shard ${unit.id} NOT processed (${why}): ${unit.errors.join('; ') || 'no device left'}`);
    this.emit('failed', { shard: unit.id });
  }

  /** Puts a shard back at the head of a queue: preferably a live device it has not failed on, the one that would start it soonest. */
  private requeue(unit: Unit, from: DeviceEntry): void {
    const view = this.view();
    const target = requeueTarget(view, estimateRates(view), unit.failedOn);
    if (target === null) {
      this.giveUp(unit, 'no device left');
      return;
    }
    const d = this.devices[target];
    d.queue.unshift(unit);
    if (d !== from || d.state === 'idle') this.dispatchNext(d);
  }

  // ---- workers dying, restarting, retiring -------------------------------------------------------

  private onWorkerDied(d: DeviceEntry, loss: WorkerLoss): void {
    if (!this.settle || this.finishing || d.state === 'retired' || d.state === 'stopped') return;
    this.emit('worker-exit', { device: d.spec.id, code: loss.code, signal: loss.signal });
    if (loss.restart !== null) {
      d.state = 'restarting';
      this.stats.restarted(d.spec.index);
    }
    const lost = d.inFlight;
    if (lost) {
      this.log(`worker for ${d.spec.id} ${loss.how} while processing shard ${lost.unit.id}`);
      this.onShardFailure(d, lost.unit.id, `worker on ${d.spec.id} ${loss.how}`);
    } else {
      this.log(`worker for ${d.spec.id} ${loss.how}`);
    }
    if (loss.restart !== null) this.log(`restarting the worker for ${d.spec.id} (restart ${loss.restart} of ${MAX_WORKER_RESTARTS})`);
    else this.retire(d, `worker died ${MAX_WORKER_RESTARTS + 1} times`);
  }

  private onWorkerRestarted(d: DeviceEntry): void {
    if (d.state === 'retired') return;
    d.state = 'idle';
    d.lastProgressAt = this.clock.now();
    this.dispatchNext(d); // a restarted worker resumes its queue
  }

  /**
   * Takes a device out of the run and hands its queue to the others. `unusable`: the device cannot run
   * this work at all (a permanent error); when no device is left after such a device, the run fails
   * at once with that error rather than reporting every remaining shard as failed.
   */
  private retire(d: DeviceEntry, why: string, unusable?: WorkerError): void {
    if (d.state === 'retired') return;
    d.state = 'retired';
    this.log(`device ${d.spec.id} retired: ${why}`);
    this.supervisor.retire(d.spec.index);
    if (unusable?.kind === 'permanent') this.unusable.push({ device: d.spec.id, error: unusable });
    if (this.live().length === 0 && this.unusable.length > 0) {
      this.fail(this.noUsableDevice());
      return;
    }
    for (const unit of d.queue.splice(0)) this.requeue(unit, d);
    this.checkFinished();
  }

  /** The run's end when every device is gone and some could not run the work at all. */
  private noUsableDevice(): ResourceError {
    const what = this.unusable.map((u) => `${u.device}: ${u.error.message}`).join('; ');
    return new ResourceError(`no device left that can run this work (${what})`, {
      hint: this.unusable.find((u) => u.error.hint !== undefined)?.error.hint ?? 'run on another device (--devices)',
    });
  }

  private live(): DeviceEntry[] {
    return this.devices.filter((x) => x.state !== 'retired' && x.state !== 'stopped');
  }

  // ---- stalls and periodic rebalancing -----------------------------------------------------------

  /** A device with a shard in flight and nothing finished for STALL_TIMEOUT_S is marked stalled (and warned about). */
  private checkStalls(): void {
    if (!this.settle || this.finishing) return;
    const t = this.clock.now();
    for (const d of this.live()) {
      if (d.state !== 'busy' || !d.inFlight || d.inFlight.unit.done) continue;
      if (!isStalled(t - d.lastProgressAt, true)) continue;
      d.state = 'stalled';
      this.log(
        `warning: device ${d.spec.id} has made no progress for ${Math.round(t - d.lastProgressAt)} s (shard ${d.inFlight.unit.id}); its queue of ${d.queue.length} is open to other devices`,
      );
      this.emit('stall', { device: d.spec.id });
      this.rebalance();
    }
  }

  /** Every steal interval: idle devices look again for work (speed estimates change as time passes). */
  private rebalance(): void {
    if (!this.settle || this.finishing) return;
    for (const d of this.live()) if (d.state === 'idle' && !d.inFlight) this.dispatchNext(d);
  }

  /** The run as the policy sees it now. */
  private view(): SchedulingView {
    const t = this.clock.now();
    return {
      weightsAreRates: this.weightsAreRates,
      devices: this.devices.map((d) => ({
        key: d.spec.index,
        live: d.state !== 'retired' && d.state !== 'stopped',
        stalled: d.state === 'stalled' || d.state === 'restarting',
        idle: d.state === 'idle' && !d.inFlight && this.supervisor.isReady(d.spec.index),
        weight: d.weight,
        finished: this.stats.finishedWork(d.spec.index),
        queued: d.queue,
        inFlight: d.inFlight && {
          ...d.inFlight.unit,
          elapsedS: t - d.inFlight.startedAt,
          copies: d.inFlight.unit.running.size,
          superseded: d.inFlight.unit.done,
        },
      })),
    };
  }

  // ---- ending ------------------------------------------------------------------------------------

  private checkFinished(): void {
    if (!this.settle || this.finishing) return;
    if (this.stats.shardsDone + this.stats.failed.length < this.stats.shardsTotal) {
      if (this.live().length > 0) return;
      // Every device is gone: whatever is left cannot run.
      for (const d of this.devices) for (const unit of d.queue.splice(0)) this.giveUp(unit, 'no device left');
    }
    this.finishing = true;
    this.supervisor.stopSupervising();
    this.settle.resolve();
  }

  /** Rethrows the reason the run was aborted, if it was. */
  private throwIfAborted(): void {
    if (this.abortReason) throw this.abortReason.error;
  }

  /** Ends the run with an error (run() rejects with it). */
  private fail(e: unknown): void {
    if (this.abortReason) return;
    this.abortReason = { error: e };
    this.finishing = true;
    this.supervisor.stopSupervising();
    this.settle?.reject(e);
  }

  private markStopped(): void {
    for (const d of this.devices) if (d.state !== 'retired') d.state = 'stopped';
  }
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(3);
}
