/**
 * The coordinator: owns the per-device queues and decides where and when each
 * shard runs. It never changes what a shard computes, so results are the same
 * for any devices and flags. Workers are reached only through WorkerTransport
 * messages (see protocol.ts); compute never runs on this event loop.
 *
 * Life of a run: start one worker per device and wait for them to load their
 * models (and calibrate, with --gpu-weighted) -> assign shards to queues by
 * weight -> dispatch one shard at a time per worker -> on each result, hand it
 * to onResult (awaited, serialized) and dispatch the next shard, stealing when
 * a queue runs dry (--work-stealing) -> shut the workers down and report.
 */
import { EventEmitter } from 'node:events';
import { ResourceError, VirnucproError, ExitCode } from '../util/errors.js';
import { assignByWeight, chooseSteal, type DeviceLoadView } from './assignment.js';
import { childProcessLauncher } from './child-transport.js';
import { DEFAULT_STEAL_INTERVAL_S, STEAL_INTERVAL_S } from './limits.js';
import type { FromWorker, WorkerDevice, WorkerError, WorkerLauncher, WorkerTransport } from './protocol.js';
import { slowdownFor } from './slowdown.js';
import type { DeviceSpec, ShardDescriptor } from './types.js';

export interface CoordinatorOptions {
  devices: DeviceSpec[];
  /** Worker-side module exporting createShardHandler(init, device), and its init object. */
  handler: { module: string; init: unknown };
  /** Idle devices take queued shards from the most loaded device (default off). */
  workStealing?: boolean;
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
  /** Forward SIGINT/SIGTERM: stop the workers and end the run with exit code 130/143 (default true). */
  handleSignals?: boolean;
  /** Log lines (default: stderr). The dashboard replaces this to keep its table intact. */
  log?: (line: string) => void;
  /** Environment the slowdown knob is read from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** A steal must finish the shard earlier than its owner by this fraction of the owner's finish time. */
const STEAL_THRESHOLD = 0.1;
/** Times a device's worker is restarted after dying before the device is retired. */
const MAX_WORKER_RESTARTS = 2;
/** A device with work and no finished shard for this long is reported stalled and its queue opened to others. */
const STALL_TIMEOUT_S = 300;

export type DeviceState = 'starting' | 'idle' | 'busy' | 'stalled' | 'restarting' | 'retired' | 'stopped';

export interface StealEvent {
  /** Seconds since scheduling started. */
  t: number;
  time: string;
  from: string;
  to: string;
  shard: string;
}

export interface FailedShard {
  id: string;
  attempts: number;
  devices: string[];
  errors: string[];
}

/** Per-device figures, in run.json's spelling. */
export interface DeviceRunFigures {
  device: string;
  name: string;
  weight: number;
  shards: number;
  sequences: number;
  tokens: number;
  cost: number;
  stolen_in: number;
  stolen_out: number;
  busy_s: number;
  idle_s: number;
  restarts: number;
  failures: number;
}

export interface RunReport {
  /** False when some shard could not be processed (exit code 3). */
  complete: boolean;
  shards_total: number;
  shards_done: number;
  failed: FailedShard[];
  devices: DeviceRunFigures[];
  /** Seconds from the first dispatch to the last result. */
  makespan_s: number;
  /** Seconds spent starting workers (model loading, calibration). */
  startup_s: number;
  steals: StealEvent[];
  options: { work_stealing: boolean; gpu_weighted: boolean; weight_source: string; steal_interval_s: number };
}

/** Live view for the dashboard and the metrics log. */
export interface DeviceSnapshot {
  device: string;
  name: string;
  kind: DeviceSpec['kind'];
  state: DeviceState;
  weight: number;
  queueDepth: number;
  inFlight: string | null;
  shardsDone: number;
  sequencesDone: number;
  tokensDone: number;
  stolenIn: number;
  stolenOut: number;
  busyS: number;
  cpuPercent?: number;
  rssBytes?: number;
}

export interface CoordinatorSnapshot {
  elapsedS: number;
  shardsTotal: number;
  shardsDone: number;
  shardsFailed: number;
  costTotal: number;
  costDone: number;
  devices: DeviceSnapshot[];
  steals: number;
  recentSteals: StealEvent[];
}

/** The run was stopped by a signal; the exit code says which. */
export class InterruptedError extends VirnucproError {
  constructor(signal: 'SIGINT' | 'SIGTERM') {
    super(`stopped by ${signal}`, { exitCode: signal === 'SIGINT' ? ExitCode.sigint : ExitCode.sigterm, hint: 'the run can be resumed' });
  }
}

export type OnResult = (shard: ShardDescriptor, result: unknown, device: DeviceSpec) => void | Promise<void>;

interface ShardEntry {
  shard: ShardDescriptor;
  attempts: number;
  failedOn: Set<string>;
  errors: string[];
}

/** The coordinator's record of one device: its worker, state, queue and figures. */
interface DeviceEntry {
  spec: WorkerDevice;
  worker: WorkerTransport | null;
  state: DeviceState;
  weight: number;
  queue: ShardEntry[];
  inFlight: { entry: ShardEntry; startedAt: number } | null;
  lastProgressAt: number;
  restarts: number;
  failures: number;
  shards: number;
  sequences: number;
  tokens: number;
  cost: number;
  busyS: number;
  stolenIn: number;
  stolenOut: number;
  cpuPercent?: number;
  rssBytes?: number;
  /** Resolves when a (re)started worker is ready or has failed to start. */
  readyWaiter: ((outcome: StartOutcome) => void) | null;
}

/** How starting a worker ended. */
type StartOutcome = { calibration?: number } | { error: WorkerError };

const SHUTDOWN_GRACE_MS = 3000;
const RECENT_STEALS = 5;

function now(): number {
  return performance.now() / 1000;
}

export class Coordinator extends EventEmitter {
  private readonly opts: Required<Omit<CoordinatorOptions, 'weights' | 'log' | 'env'>> & Pick<CoordinatorOptions, 'weights'>;
  /** Where workers run: one child process per device on this machine. */
  private readonly launcher: WorkerLauncher = childProcessLauncher();
  private readonly env: NodeJS.ProcessEnv;
  private readonly devices: DeviceEntry[];
  private logLine: (line: string) => void;
  private shardsTotal = 0;
  private costTotal = 0;
  private costDone = 0;
  private shardsDone = 0;
  private readonly failed: FailedShard[] = [];
  private readonly steals: StealEvent[] = [];
  /** Devices retired by a permanent error, with that error (for the run's error when no device is left). */
  private readonly unusable: Array<{ device: string; error: WorkerError }> = [];
  private scheduleStart = 0;
  private lastResultAt = 0;
  private running = false;
  private finishing = false;
  private weightSource = 'equal';
  private resultChain: Promise<void> = Promise.resolve();
  private settle: { resolve: () => void; reject: (e: unknown) => void } | null = null;
  /** Why the run was aborted (onResult threw, or a signal), rethrown by run(). */
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
    this.opts = {
      devices: options.devices,
      handler: options.handler,
      workStealing: options.workStealing ?? false,
      gpuWeighted: (options.gpuWeighted ?? false) || options.weights !== undefined,
      weights: options.weights,
      calibrate: options.calibrate ?? true,
      stealIntervalS,
      maxAttempts: options.maxAttempts ?? 3,
      handleSignals: options.handleSignals ?? true,
    };
    this.env = options.env ?? process.env;
    this.logLine = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.devices = options.devices.map((spec, index) => ({
      spec: { ...spec, index },
      worker: null,
      state: 'starting',
      weight: 1,
      queue: [],
      inFlight: null,
      lastProgressAt: 0,
      restarts: 0,
      failures: 0,
      shards: 0,
      sequences: 0,
      tokens: 0,
      cost: 0,
      busyS: 0,
      stolenIn: 0,
      stolenOut: 0,
      readyWaiter: null,
    }));
  }

  /** Sends log lines elsewhere (the dashboard prints them above its table). */
  setLog(log: (line: string) => void): void {
    this.logLine = log;
  }

  /** Log lines go here; the dashboard redirects them above its table. */
  log(line: string): void {
    this.emit('log', line);
    this.logLine(line);
  }

  /**
   * Runs every shard once, calling onResult (awaited, one at a time) with each
   * result. Resolves with the report when every shard is done or has failed;
   * rejects if onResult throws, if no worker starts, or on SIGINT/SIGTERM.
   */
  async run(shards: readonly ShardDescriptor[], onResult: OnResult): Promise<RunReport> {
    if (this.running) throw new Error('Coordinator.run is already running');
    const ids = new Set<string>();
    for (const s of shards) {
      if (ids.has(s.id)) throw new Error(`duplicate shard id '${s.id}'`);
      ids.add(s.id);
    }
    this.running = true;
    this.onResult = onResult;
    this.shardsTotal = shards.length;
    this.costTotal = shards.reduce((a, s) => a + s.cost, 0);
    const started = now();
    const removeSignals = this.opts.handleSignals ? this.installSignalHandlers() : () => undefined;
    const killOnExit = (): void => this.killAll('SIGKILL');
    process.on('exit', killOnExit);
    const timers: NodeJS.Timeout[] = [];
    try {
      await this.startWorkers();
      const startupS = now() - started;
      const done = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
      this.scheduleStart = now();
      this.lastResultAt = this.scheduleStart;
      this.assign(shards);
      timers.push(setInterval(() => this.checkStalls(), Math.min(1, STALL_TIMEOUT_S / 4) * 1000));
      timers.push(setInterval(() => this.rebalance(), this.opts.stealIntervalS * 1000));
      for (const d of this.devices) this.dispatchNext(d);
      this.checkFinished();
      await done;
      await this.resultChain;
      if (this.abortReason) throw this.abortReason.error;
      await this.shutdownWorkers('shutdown');
      return this.report(startupS);
    } catch (e) {
      await this.shutdownWorkers('SIGTERM');
      throw e;
    } finally {
      for (const t of timers) clearInterval(t);
      removeSignals();
      process.off('exit', killOnExit);
      this.running = false;
    }
  }

  /** The live state, for the dashboard and the metrics log. */
  snapshot(): CoordinatorSnapshot {
    const t = now();
    return {
      elapsedS: this.scheduleStart > 0 ? t - this.scheduleStart : 0,
      shardsTotal: this.shardsTotal,
      shardsDone: this.shardsDone,
      shardsFailed: this.failed.length,
      costTotal: this.costTotal,
      costDone: this.costDone,
      devices: this.devices.map((d) => ({
        device: d.spec.id,
        name: d.spec.name,
        kind: d.spec.kind,
        state: d.state,
        weight: d.weight,
        queueDepth: d.queue.length,
        inFlight: d.inFlight?.entry.shard.id ?? null,
        shardsDone: d.shards,
        sequencesDone: d.sequences,
        tokensDone: d.tokens,
        stolenIn: d.stolenIn,
        stolenOut: d.stolenOut,
        busyS: d.busyS + (d.inFlight ? t - d.inFlight.startedAt : 0),
        cpuPercent: d.cpuPercent,
        rssBytes: d.rssBytes,
      })),
      steals: this.steals.length,
      recentSteals: this.steals.slice(-RECENT_STEALS),
    };
  }

  // ---- workers ---------------------------------------------------------------------------------

  private async startWorkers(): Promise<void> {
    const wantCalibration = this.opts.gpuWeighted && this.opts.weights === undefined && this.opts.calibrate;
    const outcomes = await Promise.all(this.devices.map((d) => this.launch(d, wantCalibration)));
    const errors: Array<{ device: string; error: WorkerError }> = [];
    outcomes.forEach((o, i) => {
      if ('error' in o) {
        errors.push({ device: this.devices[i].spec.id, error: o.error });
        this.devices[i].state = 'retired';
        this.log(`device ${this.devices[i].spec.id} did not start: ${o.error.message}`);
      }
    });
    const live = this.devices.filter((d) => d.state !== 'retired');
    if (live.length === 0) {
      throw new ResourceError(`no worker started (${errors.map((e) => `${e.device}: ${e.error.message}`).join('; ')})`, {
        hint: errors.find((e) => e.error.hint !== undefined)?.error.hint,
      });
    }
    this.chooseWeights(outcomes.map((o) => ('error' in o ? undefined : o.calibration)));
  }

  /** Starts (or restarts) the worker of one device; resolves when it is ready or has failed. */
  private launch(d: DeviceEntry, calibrate: boolean): Promise<StartOutcome> {
    d.state = d.worker === null && d.restarts === 0 ? 'starting' : 'restarting';
    const worker = this.launcher(d.spec);
    d.worker = worker;
    const ready = new Promise<StartOutcome>((resolve) => (d.readyWaiter = resolve));
    worker.onMessage((m) => this.onWorkerMessage(d, worker, m));
    worker.onExit((code, signal) => this.onWorkerExit(d, worker, code, signal));
    worker.send({
      type: 'init',
      device: d.spec,
      handlerModule: this.opts.handler.module,
      init: this.opts.handler.init,
      calibrate,
      slowdown: slowdownFor(d.spec.index, this.env),
    });
    return ready;
  }

  private onWorkerMessage(d: DeviceEntry, worker: WorkerTransport, m: FromWorker): void {
    if (d.worker !== worker) return; // a message from a worker already replaced
    switch (m.type) {
      case 'ready': {
        const waiter = d.readyWaiter;
        d.readyWaiter = null;
        d.state = 'idle';
        d.lastProgressAt = now();
        waiter?.({ calibration: m.calibration });
        if (this.settle) this.dispatchNext(d); // a restarted worker resumes its queue
        return;
      }
      case 'init-error': {
        const waiter = d.readyWaiter;
        d.readyWaiter = null;
        waiter?.({ error: m.error });
        if (this.settle) this.retire(d, `worker failed to restart: ${m.error.message}`, m.error);
        worker.kill('SIGKILL');
        return;
      }
      case 'stats':
        d.cpuPercent = m.cpuPercent;
        d.rssBytes = m.rssBytes;
        return;
      case 'result':
        d.cpuPercent = m.cpuPercent;
        d.rssBytes = m.rssBytes;
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

  private onWorkerExit(d: DeviceEntry, worker: WorkerTransport, code: number | null, signal: NodeJS.Signals | null): void {
    if (d.worker !== worker) return;
    d.worker = null;
    const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
    if (d.readyWaiter) {
      const waiter = d.readyWaiter;
      d.readyWaiter = null;
      waiter({ error: { message: `worker ${how} while starting`, kind: 'transient' } });
      if (this.settle && d.state !== 'retired') this.retire(d, `worker ${how} while restarting`);
      return;
    }
    if (!this.settle || this.finishing || d.state === 'retired' || d.state === 'stopped') return;
    this.emit('worker-exit', { device: d.spec.id, code, signal });
    const lost = d.inFlight;
    if (lost) {
      this.log(`worker for ${d.spec.id} ${how} while processing shard ${lost.entry.shard.id}`);
      this.onShardFailure(d, lost.entry.shard.id, `worker on ${d.spec.id} ${how}`);
    } else {
      this.log(`worker for ${d.spec.id} ${how}`);
    }
    if (d.restarts < MAX_WORKER_RESTARTS) {
      d.restarts++;
      this.log(`restarting the worker for ${d.spec.id} (restart ${d.restarts} of ${MAX_WORKER_RESTARTS})`);
      void this.launch(d, false);
    } else {
      this.retire(d, `worker died ${d.restarts + 1} times`);
    }
  }

  /**
   * Takes a device out of the run and hands its queue to the others. `unusable`: the device cannot run
   * this work at all (a permanent error); when no device is left after such a device, the run fails
   * at once with that error rather than reporting every remaining shard as failed.
   */
  private retire(d: DeviceEntry, why: string, unusable?: WorkerError): void {
    d.state = 'retired';
    this.log(`device ${d.spec.id} retired: ${why}`);
    d.worker?.kill('SIGKILL');
    if (unusable?.kind === 'permanent') this.unusable.push({ device: d.spec.id, error: unusable });
    if (this.live().length === 0 && this.unusable.length > 0) {
      this.abort(this.noUsableDevice());
      return;
    }
    const orphaned = d.queue.splice(0);
    for (const entry of orphaned) this.requeue(entry, d);
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

  // ---- assignment and dispatch -------------------------------------------------------------------

  private chooseWeights(calibrations: (number | undefined)[]): void {
    const live = this.live();
    let weights: number[];
    if (this.opts.weights) {
      weights = this.opts.weights;
      this.weightSource = 'given (--gpu-weights)';
    } else if (this.opts.gpuWeighted && this.opts.calibrate && live.every((d) => (calibrations[d.spec.index] ?? 0) > 0)) {
      weights = calibrations.map((c) => c ?? 0);
      this.weightSource = 'calibration';
    } else if (this.opts.gpuWeighted) {
      weights = this.devices.map((d) => d.spec.tableWeight);
      this.weightSource = this.opts.calibrate ? 'built-in table (handler has no calibrate())' : 'built-in table';
    } else {
      weights = this.devices.map(() => 1);
      this.weightSource = 'equal';
    }
    this.devices.forEach((d, i) => (d.weight = weights[i]));
  }

  private assign(shards: readonly ShardDescriptor[]): void {
    const live = this.live();
    const queues = assignByWeight(
      shards.map((s) => s.cost),
      live.map((d) => d.weight),
    );
    // Weighted (or plain static) queues run largest first (LPT: the small shards at the end even out the
    // finishing times). Stealing over an unweighted split runs smallest first instead: thieves take from
    // the tail, so the large shards are the ones that move to the devices that turn out fast, and a slow
    // owner is not left finishing a large shard while the others wait.
    queues.forEach((q, i) => {
      const ordered = this.opts.workStealing && !this.opts.gpuWeighted ? [...q].reverse() : q;
      live[i].queue = ordered.map((k) => ({ shard: shards[k], attempts: 0, failedOn: new Set(), errors: [] }));
    });
    const mode = [this.opts.gpuWeighted ? 'weighted' : 'static', this.opts.workStealing ? 'work stealing' : 'no stealing'];
    this.log(`scheduling ${shards.length} shards on ${live.length} devices (${mode.join(', ')}; weights: ${this.weightSource})`);
    for (const d of live) {
      const cost = d.queue.reduce((a, e) => a + e.shard.cost, 0);
      this.log(`  ${d.spec.id} ${d.spec.name}: weight ${fmt(d.weight)}, ${d.queue.length} shards, estimated cost ${cost.toExponential(3)}`);
    }
  }

  private dispatchNext(d: DeviceEntry): void {
    if (!this.settle || this.finishing || d.inFlight || d.worker === null) return;
    if (d.state !== 'idle' && d.state !== 'busy' && d.state !== 'stalled') return;
    if (d.queue.length === 0 && this.opts.workStealing) this.trySteal(d);
    const entry = d.queue.shift();
    if (!entry) {
      d.state = 'idle';
      return;
    }
    entry.attempts++;
    d.inFlight = { entry, startedAt: now() };
    d.state = 'busy';
    d.lastProgressAt = now();
    this.emit('dispatch', { shard: entry.shard.id, device: d.spec.id, pid: d.worker.pid, attempt: entry.attempts });
    d.worker.send({ type: 'shard', shard: entry.shard });
  }

  private onShardResult(d: DeviceEntry, shardId: string, result: unknown): void {
    const flight = d.inFlight;
    if (!flight || flight.entry.shard.id !== shardId) return; // not ours (cannot happen with one in flight)
    const t = now();
    d.inFlight = null;
    d.busyS += t - flight.startedAt;
    d.lastProgressAt = t;
    const shard = flight.entry.shard;
    d.shards++;
    d.cost += shard.cost;
    d.tokens += shard.tokens ?? 0;
    d.sequences += shard.sequences ?? 0;
    this.shardsDone++;
    this.costDone += shard.cost;
    this.lastResultAt = t;
    if (d.state === 'stalled') this.log(`device ${d.spec.id} is making progress again`);
    d.state = 'idle';
    this.dispatchNext(d); // keep the device busy while the parent writes the result
    this.emit('result', { shard: shard.id, device: d.spec.id });
    const spec: DeviceSpec = d.spec;
    this.resultChain = this.resultChain
      .then(() => this.onResult(shard, result, spec))
      .then(
        () => this.checkFinished(),
        (e: unknown) => this.abort(e),
      );
  }

  /** A shard failed on device d (handler error or worker death): retry elsewhere, or give up on it. */
  private onShardFailure(d: DeviceEntry, shardId: string, message: string): void {
    const flight = d.inFlight;
    if (!flight || flight.entry.shard.id !== shardId) return;
    d.inFlight = null;
    d.busyS += now() - flight.startedAt;
    d.failures++;
    if (d.state !== 'retired') d.state = 'idle';
    const entry = flight.entry;
    entry.failedOn.add(d.spec.id);
    entry.errors.push(`${d.spec.id}: ${message}`);
    if (entry.attempts >= this.opts.maxAttempts) {
      this.giveUp(entry, `failed ${entry.attempts} times`);
    } else {
      this.log(`shard ${shardId} failed on ${d.spec.id} (${message}); retrying (attempt ${entry.attempts + 1} of ${this.opts.maxAttempts})`);
      this.requeue(entry, d);
    }
    this.checkFinished();
  }

  /**
   * A permanent error on device d (protocol.ts, ErrorKind): no retry there can help, and the shard is not
   * to blame. The device is retired at once; the shard goes back to the head of its queue, uncounted,
   * and retire() hands that queue to the other devices.
   */
  private onDeviceUnusable(d: DeviceEntry, shardId: string, error: WorkerError): void {
    const flight = d.inFlight;
    if (!flight || flight.entry.shard.id !== shardId) return;
    d.inFlight = null;
    d.busyS += now() - flight.startedAt;
    d.failures++;
    const entry = flight.entry;
    entry.attempts--;
    entry.failedOn.add(d.spec.id);
    entry.errors.push(`${d.spec.id}: ${error.message}`);
    d.queue.unshift(entry);
    this.retire(d, `it cannot run this work (${error.message})`, error);
  }

  private giveUp(entry: ShardEntry, why: string): void {
    this.failed.push({ id: entry.shard.id, attempts: entry.attempts, devices: [...entry.failedOn], errors: entry.errors });
    this.log(`shard ${entry.shard.id} NOT processed (${why}): ${entry.errors.join('; ') || 'no device left'}`);
    this.emit('failed', { shard: entry.shard.id });
  }

  /**
   * Puts a shard back at the head of a queue: preferably a live device it has
   * not failed on, the one that would start it soonest.
   */
  private requeue(entry: ShardEntry, from: DeviceEntry): void {
    const live = this.live();
    if (live.length === 0) {
      this.giveUp(entry, 'no device left');
      return;
    }
    const fresh = live.filter((x) => !entry.failedOn.has(x.spec.id));
    const pool = fresh.length > 0 ? fresh : live;
    const rates = this.rates();
    let target = pool[0];
    for (const x of pool) if (this.finishS(x, rates) < this.finishS(target, rates)) target = x;
    target.queue.unshift(entry);
    if (target !== from || target.state === 'idle') this.dispatchNext(target);
  }

  // ---- stealing and stalls ----------------------------------------------------------------------

  /** Cost per second per device: observed where a device has finished work, else its weight scaled like the others. */
  private rates(): Map<DeviceEntry, number> {
    const observed = this.devices.filter((d) => d.shards > 0 && d.busyS > 0);
    const perWeight = observed.length > 0 ? observed.reduce((a, d) => a + d.cost / d.busyS / d.weight, 0) / observed.length : 1;
    return new Map(this.devices.map((d) => [d, d.shards > 0 && d.busyS > 0 ? d.cost / d.busyS : d.weight * perWeight]));
  }

  private finishS(d: DeviceEntry, rates: Map<DeviceEntry, number>): number {
    if (d.state === 'stalled' || d.state === 'restarting') return Infinity;
    const rate = rates.get(d) ?? 1;
    let s = d.queue.reduce((a, e) => a + e.shard.cost, 0) / rate;
    if (d.inFlight) s += Math.max(0, d.inFlight.entry.shard.cost / rate - (now() - d.inFlight.startedAt));
    return s;
  }

  /** An idle device takes one shard from the tail of the most loaded queue, if that shortens the run. */
  private trySteal(thief: DeviceEntry): void {
    const rates = this.rates();
    const victims: Array<DeviceLoadView & { key: number }> = [];
    for (const v of this.live()) {
      if (v === thief || v.queue.length === 0) continue;
      const forbidden = new Set<number>();
      v.queue.forEach((e, pos) => e.failedOn.has(thief.spec.id) && forbidden.add(pos));
      victims.push({ key: v.spec.index, rate: rates.get(v) ?? 1, finishS: this.finishS(v, rates), queuedCosts: v.queue.map((e) => e.shard.cost), forbidden });
    }
    const pick = chooseSteal(rates.get(thief) ?? 1, victims, STEAL_THRESHOLD);
    if (!pick) return;
    const victim = this.devices[pick.victim];
    const [entry] = victim.queue.splice(pick.position, 1);
    thief.queue.push(entry);
    victim.stolenOut++;
    thief.stolenIn++;
    const event: StealEvent = {
      t: round3(now() - this.scheduleStart),
      time: new Date().toISOString(),
      from: victim.spec.id,
      to: thief.spec.id,
      shard: entry.shard.id,
    };
    this.steals.push(event);
    this.log(`steal t=${event.t.toFixed(1)}s shard ${event.shard}: ${event.from} -> ${event.to}`);
    this.emit('steal', event);
  }

  /** A device with work in flight and no finished shard for STALL_TIMEOUT_S is marked stalled (and warned about). */
  private checkStalls(): void {
    if (!this.settle || this.finishing) return;
    const t = now();
    for (const d of this.live()) {
      if (d.inFlight && d.state === 'busy' && t - d.lastProgressAt > STALL_TIMEOUT_S) {
        d.state = 'stalled';
        this.log(
          `warning: device ${d.spec.id} has made no progress for ${Math.round(t - d.lastProgressAt)} s (shard ${d.inFlight.entry.shard.id}); its queue of ${d.queue.length} is open to other devices`,
        );
        this.emit('stall', { device: d.spec.id });
        this.rebalance();
      }
    }
  }

  /** Every steal interval: devices that ran dry try again to take work (and always from stalled queues). */
  private rebalance(): void {
    if (!this.settle || this.finishing) return;
    const stalledWork = this.devices.some((d) => d.state === 'stalled' && d.queue.length > 0);
    if (this.opts.workStealing || stalledWork) {
      for (const d of this.live()) {
        if (d.state === 'idle' && !d.inFlight && d.queue.length === 0 && d.worker) {
          if (!this.opts.workStealing) {
            // Without --work-stealing only a stalled device's queue is open.
            const stalled = this.devices.find((x) => x.state === 'stalled' && x.queue.length > 0);
            if (stalled) this.moveTail(stalled, d);
          }
          this.dispatchNext(d);
        }
      }
    }
  }

  private moveTail(from: DeviceEntry, to: DeviceEntry): void {
    const entry = from.queue.pop();
    if (!entry) return;
    to.queue.push(entry);
    from.stolenOut++;
    to.stolenIn++;
    const event: StealEvent = { t: round3(now() - this.scheduleStart), time: new Date().toISOString(), from: from.spec.id, to: to.spec.id, shard: entry.shard.id };
    this.steals.push(event);
    this.log(`steal t=${event.t.toFixed(1)}s shard ${event.shard}: ${event.from} (stalled) -> ${event.to}`);
    this.emit('steal', event);
  }

  // ---- ending --------------------------------------------------------------------------------------

  private checkFinished(): void {
    if (!this.settle || this.finishing) return;
    if (this.shardsDone + this.failed.length < this.shardsTotal) {
      if (this.live().length === 0) {
        // Every device is gone: whatever is left cannot run.
        for (const d of this.devices) for (const entry of d.queue.splice(0)) this.giveUp(entry, 'no device left');
      } else {
        return;
      }
    }
    this.finishing = true;
    this.settle.resolve();
  }

  private abort(e: unknown): void {
    if (!this.settle || this.abortReason) return;
    this.abortReason = { error: e };
    this.finishing = true;
    this.settle.reject(e);
  }

  private installSignalHandlers(): () => void {
    const handlers = (['SIGINT', 'SIGTERM'] as const).map((sig) => {
      const h = (): void => {
        this.log(`${sig}: stopping ${this.live().length} workers (${this.shardsDone} of ${this.shardsTotal} shards done)`);
        this.killAll('SIGTERM');
        this.abort(new InterruptedError(sig));
      };
      process.on(sig, h);
      return () => process.off(sig, h);
    });
    return () => handlers.forEach((off) => off());
  }

  private killAll(signal: NodeJS.Signals): void {
    for (const d of this.devices) d.worker?.kill(signal);
  }

  /** Stops every worker: politely ('shutdown' message) or with a signal; SIGKILL after a grace period. */
  private async shutdownWorkers(how: 'shutdown' | 'SIGTERM'): Promise<void> {
    this.finishing = true;
    const waits: Promise<void>[] = [];
    for (const d of this.devices) {
      const w = d.worker;
      if (!w) continue;
      waits.push(
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            w.kill('SIGKILL');
            resolve();
          }, SHUTDOWN_GRACE_MS);
          w.onExit(() => {
            clearTimeout(timer);
            resolve();
          });
        }),
      );
      if (how === 'shutdown') w.send({ type: 'shutdown' });
      else w.kill('SIGTERM');
    }
    await Promise.all(waits);
    for (const d of this.devices) {
      d.worker = null;
      if (d.state !== 'retired') d.state = 'stopped';
    }
    this.settle = null;
  }

  private report(startupS: number): RunReport {
    const makespan = Math.max(0, this.lastResultAt - this.scheduleStart);
    return {
      complete: this.failed.length === 0 && this.shardsDone === this.shardsTotal,
      shards_total: this.shardsTotal,
      shards_done: this.shardsDone,
      failed: this.failed,
      devices: this.devices.map((d) => ({
        device: d.spec.id,
        name: d.spec.name,
        weight: round3(d.weight),
        shards: d.shards,
        sequences: d.sequences,
        tokens: d.tokens,
        cost: d.cost,
        stolen_in: d.stolenIn,
        stolen_out: d.stolenOut,
        busy_s: round3(d.busyS),
        idle_s: round3(Math.max(0, makespan - d.busyS)),
        restarts: d.restarts,
        failures: d.failures,
      })),
      makespan_s: round3(makespan),
      startup_s: round3(startupS),
      steals: this.steals,
      options: {
        work_stealing: this.opts.workStealing,
        gpu_weighted: this.opts.gpuWeighted,
        weight_source: this.weightSource,
        steal_interval_s: this.opts.stealIntervalS,
      },
    };
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(3);
}
