/**
 * Run statistics: what each device did (shards, tokens, busy time, steals,
 * backups, restarts, failures), the run's steal and backup events and failed
 * shards, turned into the live snapshot (dashboard, metrics log) and into the
 * report whose figures predict writes to run.json. It records; it decides
 * nothing.
 */
import type { Clock } from './clock.js';
import type { DeviceSpec, ShardDescriptor } from './types.js';

export type DeviceState = 'starting' | 'idle' | 'busy' | 'stalled' | 'restarting' | 'retired' | 'stopped';

export interface StealEvent {
  /** Seconds since scheduling started. */
  t: number;
  time: string;
  from: string;
  to: string;
  shard: string;
}

/** A shard run twice at the tail: `from` had it in flight, `to` ran the backup copy. */
export interface BackupEvent {
  /** Seconds since scheduling started, when the backup copy was sent. */
  t: number;
  time: string;
  shard: string;
  from: string;
  to: string;
  /** The device whose copy delivered the result; null while both run, or when neither finished it. */
  winner: string | null;
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
  /** Backup copies this device ran (whichever copy won). */
  backups: number;
  busy_s: number;
  /** Of busy_s, seconds spent on copies whose result another device delivered first. */
  unused_s: number;
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
  backups: BackupEvent[];
  options: { work_stealing: boolean; backup_tasks: boolean; gpu_weighted: boolean; weight_source: string; steal_interval_s: number };
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

/** A device's live state as the coordinator knows it, for snapshot(). */
export interface DeviceLive {
  spec: DeviceSpec;
  state: DeviceState;
  weight: number;
  queueDepth: number;
  inFlight: { shard: string; startedAt: number } | null;
}

interface DeviceCounters {
  shards: number;
  sequences: number;
  tokens: number;
  cost: number;
  busyS: number;
  /** Busy seconds of the shards this device delivered: with `cost`, its observed speed. */
  deliveredS: number;
  unusedS: number;
  stolenIn: number;
  stolenOut: number;
  backups: number;
  restarts: number;
  failures: number;
  cpuPercent?: number;
  rssBytes?: number;
}

const RECENT_STEALS = 5;

export class RunStats {
  readonly steals: StealEvent[] = [];
  readonly backups: BackupEvent[] = [];
  readonly failed: FailedShard[] = [];
  shardsTotal = 0;
  costTotal = 0;
  shardsDone = 0;
  costDone = 0;
  private readonly counters: DeviceCounters[];
  private scheduleStart: number | null = null;
  private lastResultAt = 0;

  constructor(
    deviceCount: number,
    private readonly clock: Clock,
  ) {
    this.counters = Array.from({ length: deviceCount }, () => ({
      shards: 0,
      sequences: 0,
      tokens: 0,
      cost: 0,
      busyS: 0,
      deliveredS: 0,
      unusedS: 0,
      stolenIn: 0,
      stolenOut: 0,
      backups: 0,
      restarts: 0,
      failures: 0,
    }));
  }

  /** The shards of the run, before scheduling starts. */
  expect(shards: readonly ShardDescriptor[]): void {
    this.shardsTotal = shards.length;
    this.costTotal = shards.reduce((a, s) => a + s.cost, 0);
  }

  /** Scheduling starts now: the makespan and event times count from here. */
  startScheduling(): void {
    this.scheduleStart = this.clock.now();
    this.lastResultAt = this.scheduleStart;
  }

  /** What a device finished and delivered, and how long it ran. */
  delivered(device: number, shard: ShardDescriptor, seconds: number): void {
    const c = this.counters[device];
    c.shards++;
    c.cost += shard.cost;
    c.tokens += shard.tokens ?? 0;
    c.sequences += shard.sequences ?? 0;
    c.busyS += seconds;
    c.deliveredS += seconds;
    this.shardsDone++;
    this.costDone += shard.cost;
    this.lastResultAt = this.clock.now();
  }

  /** A copy that ended without delivering: it failed, its worker died, or (`unused`) another copy won. */
  ranWithoutResult(device: number, seconds: number, why: 'failed' | 'unused'): void {
    const c = this.counters[device];
    c.busyS += seconds;
    if (why === 'unused') c.unusedS += seconds;
    else c.failures++;
  }

  restarted(device: number): void {
    this.counters[device].restarts++;
  }

  /** Resource figures the worker reported. */
  resources(device: number, cpuPercent: number, rssBytes: number): void {
    this.counters[device].cpuPercent = cpuPercent;
    this.counters[device].rssBytes = rssBytes;
  }

  /** Cost and busy seconds of what the device delivered (its observed speed). */
  finishedWork(device: number): { cost: number; seconds: number } {
    const c = this.counters[device];
    return { cost: c.cost, seconds: c.deliveredS };
  }

  steal(from: { index: number; id: string }, to: { index: number; id: string }, shard: string): StealEvent {
    this.counters[from.index].stolenOut++;
    this.counters[to.index].stolenIn++;
    const event: StealEvent = { t: this.sinceStart(), time: new Date().toISOString(), from: from.id, to: to.id, shard };
    this.steals.push(event);
    return event;
  }

  backupStarted(from: string, to: { index: number; id: string }, shard: string): BackupEvent {
    this.counters[to.index].backups++;
    const event: BackupEvent = { t: this.sinceStart(), time: new Date().toISOString(), shard, from, to: to.id, winner: null };
    this.backups.push(event);
    return event;
  }

  /** Records which copy of a backed-up shard delivered the result. */
  backupWon(shard: string, winner: string): void {
    const event = this.backups.find((b) => b.shard === shard && b.winner === null);
    if (event) event.winner = winner;
  }

  gaveUp(failed: FailedShard): void {
    this.failed.push(failed);
  }

  snapshot(devices: readonly DeviceLive[]): CoordinatorSnapshot {
    const t = this.clock.now();
    return {
      elapsedS: this.scheduleStart === null ? 0 : t - this.scheduleStart,
      shardsTotal: this.shardsTotal,
      shardsDone: this.shardsDone,
      shardsFailed: this.failed.length,
      costTotal: this.costTotal,
      costDone: this.costDone,
      devices: devices.map((d, i) => {
        const c = this.counters[i];
        return {
          device: d.spec.id,
          name: d.spec.name,
          kind: d.spec.kind,
          state: d.state,
          weight: d.weight,
          queueDepth: d.queueDepth,
          inFlight: d.inFlight?.shard ?? null,
          shardsDone: c.shards,
          sequencesDone: c.sequences,
          tokensDone: c.tokens,
          stolenIn: c.stolenIn,
          stolenOut: c.stolenOut,
          busyS: c.busyS + (d.inFlight ? t - d.inFlight.startedAt : 0),
          cpuPercent: c.cpuPercent,
          rssBytes: c.rssBytes,
        };
      }),
      steals: this.steals.length,
      recentSteals: this.steals.slice(-RECENT_STEALS),
    };
  }

  report(devices: ReadonlyArray<{ spec: DeviceSpec; weight: number }>, startupS: number, options: RunReport['options']): RunReport {
    const makespan = this.scheduleStart === null ? 0 : Math.max(0, this.lastResultAt - this.scheduleStart);
    return {
      complete: this.failed.length === 0 && this.shardsDone === this.shardsTotal,
      shards_total: this.shardsTotal,
      shards_done: this.shardsDone,
      failed: this.failed,
      devices: devices.map((d, i) => {
        const c = this.counters[i];
        return {
          device: d.spec.id,
          name: d.spec.name,
          weight: round3(d.weight),
          shards: c.shards,
          sequences: c.sequences,
          tokens: c.tokens,
          cost: c.cost,
          stolen_in: c.stolenIn,
          stolen_out: c.stolenOut,
          backups: c.backups,
          busy_s: round3(c.busyS),
          unused_s: round3(c.unusedS),
          idle_s: round3(Math.max(0, makespan - c.busyS)),
          restarts: c.restarts,
          failures: c.failures,
        };
      }),
      makespan_s: round3(makespan),
      startup_s: round3(startupS),
      steals: this.steals,
      backups: this.backups,
      options,
    };
  }

  private sinceStart(): number {
    return round3(this.scheduleStart === null ? 0 : this.clock.now() - this.scheduleStart);
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
