/**
 * The rebalancing policy as pure functions over a snapshot of the run
 * (SchedulingView): device weights, the initial queues, speed estimates, which
 * queued shard an idle device steals, which shard in flight it backs up, and
 * where a failed shard goes. No timers, processes or clocks here: the
 * coordinator builds the view (elapsed times included) and applies the
 * decision, so every rule can be read and tested on plain data.
 *
 * Units: costs are the shards' `cost` (estimated FLOPs); rates are cost per
 * second; times are seconds.
 */
import { assignByWeight, chooseSteal as chooseTailSteal, type DeviceLoadView } from './assignment.js';

/** A steal must let the thief finish the shard earlier than its owner by this fraction of the owner's finish time. */
export const STEAL_MARGIN = 0.1;
/** A backup copy must be expected to finish earlier than the original by this fraction of the original's remaining time. */
export const BACKUP_MARGIN = 0.25;
/** Copies of one shard that may run at once (the original and one backup). */
export const MAX_COPIES = 2;
/** A device with work in flight and no finished shard for this long is stalled: its queue is opened to the others. */
export const STALL_TIMEOUT_S = 300;

/** A shard as the policy sees it. */
export interface UnitView {
  id: string;
  cost: number;
  /** Devices (keys) this shard already failed on: they are not given it again while others can take it. */
  failedOn: ReadonlySet<number>;
}

/** A shard running on a device. */
export interface InFlightView extends UnitView {
  /** Seconds since this device started it. */
  elapsedS: number;
  /** Copies of this shard running now, this one included (2 with a backup). */
  copies: number;
  /** Another copy already delivered the result: this one runs on, unused. */
  superseded: boolean;
}

/** One device at the moment of the decision. */
export interface DeviceView {
  /** Its position in the run's device list. */
  key: number;
  /** Still part of the run (not retired). */
  live: boolean;
  /** Stalled, or its worker is restarting: it finishes nothing soon and its queue is open to the others. */
  stalled: boolean;
  /** Its worker is ready and has nothing in flight. */
  idle: boolean;
  weight: number;
  /** Cost and busy seconds of the shards it finished: its observed speed. */
  finished: { cost: number; seconds: number };
  /** Shards waiting in its queue, head (next to run) first. */
  queued: readonly UnitView[];
  inFlight: InFlightView | null;
}

export interface SchedulingView {
  devices: readonly DeviceView[];
  /** The weights are measured throughputs (calibration), not just ratios. */
  weightsAreRates: boolean;
}

// ---- weights and the initial assignment --------------------------------------------------------

/** What calibrating one device gave. */
export type Calibration = { rate: number } | { failed: string } | { unsupported: true };

export interface WeightChoice {
  weights: number[];
  /** For the log and run.json: where the weights came from, and why not from calibration when that was asked for. */
  source: string;
  /** The weights are throughputs in cost units per second. */
  areRates: boolean;
}

/**
 * Device weights: given (--gpu-weights); else with --gpu-weighted calibration on every live device, or the
 * built-in table when calibration is off or did not give a positive rate on every live device (the source
 * says which device and why); else equal.
 */
export function chooseWeights(input: {
  ids: readonly string[];
  live: readonly boolean[];
  explicit?: readonly number[];
  weighted: boolean;
  calibrate: boolean;
  calibrations: readonly (Calibration | undefined)[];
  table: readonly number[];
}): WeightChoice {
  if (input.explicit) return { weights: [...input.explicit], source: 'given (--gpu-weights)', areRates: false };
  if (!input.weighted) return { weights: input.ids.map(() => 1), source: 'equal', areRates: false };
  if (!input.calibrate) return { weights: [...input.table], source: 'built-in table', areRates: false };
  const problems: string[] = [];
  input.ids.forEach((id, i) => {
    if (!input.live[i]) return;
    const c = input.calibrations[i];
    if (c === undefined || 'unsupported' in c) problems.push(`${id}: the shard handler has no calibrate()`);
    else if ('failed' in c) problems.push(`${id}: calibration failed (${c.failed})`);
    else if (!(c.rate > 0 && Number.isFinite(c.rate))) problems.push(`${id}: calibration gave ${c.rate}`);
  });
  if (problems.length > 0) return { weights: [...input.table], source: `built-in table (${problems.join('; ')})`, areRates: false };
  return { weights: input.calibrations.map((c) => (c && 'rate' in c ? c.rate : 0)), source: 'calibration', areRates: true };
}

/**
 * The initial queues (shard indices per device, head first): LPT over the weights (assignment.ts), each
 * queue largest shard first. A device thus starts on its largest shards and ends on its smallest, so the
 * shards thieves take from the tails are the small ones and the last shard a slow device runs is short.
 */
export function initialQueues(costs: readonly number[], weights: readonly number[]): number[][] {
  return assignByWeight(costs, weights);
}

// ---- speed estimates ---------------------------------------------------------------------------

export interface RateEstimate {
  /**
   * Each device's speed from its record: observed (cost / busy seconds of its finished shards) where it
   * has finished a shard, else its weight scaled like the observed devices (or as calibrated).
   */
  record: number[];
  /** The record, capped by the shard in flight: a device that has run a shard of cost c for t seconds without finishing is no faster than c / t. */
  current: number[];
  /** Rates are in cost per second (something was observed or calibrated); otherwise only their ratios mean anything. */
  absolute: boolean;
}

/** Speed estimates for every device (indexed by key). */
export function estimateRates(view: SchedulingView): RateEstimate {
  const observed = view.devices.filter((d) => d.finished.seconds > 0 && d.finished.cost > 0);
  const scale = view.weightsAreRates
    ? 1
    : observed.length > 0
      ? observed.reduce((a, d) => a + d.finished.cost / d.finished.seconds / d.weight, 0) / observed.length
      : undefined;
  const absolute = scale !== undefined;
  const record: number[] = [];
  const current: number[] = [];
  for (const d of view.devices) {
    const r = d.finished.seconds > 0 && d.finished.cost > 0 ? d.finished.cost / d.finished.seconds : d.weight * (scale ?? 1);
    record[d.key] = r;
    const f = d.inFlight;
    current[d.key] = absolute && f && f.elapsedS > 0 ? Math.min(r, f.cost / f.elapsedS) : r;
  }
  return { record, current, absolute };
}

/** Seconds until the device finishes the shard in flight and its queue (Infinity when stalled). */
export function finishS(d: DeviceView, rates: RateEstimate): number {
  if (d.stalled) return Infinity;
  const rate = rates.current[d.key];
  let s = d.queued.reduce((a, u) => a + u.cost, 0) / rate;
  // With the rate capped by the shard in flight, its expected remainder is never negative.
  if (d.inFlight) s += rates.absolute ? Math.max(0, d.inFlight.cost / rate - d.inFlight.elapsedS) : d.inFlight.cost / rate;
  return s;
}

// ---- stealing ----------------------------------------------------------------------------------

/**
 * What an idle device (the thief) takes from the queues: the tail shard of the device that will finish
 * last, when the thief would finish that shard earlier than its owner by more than STEAL_MARGIN of the
 * owner's finish time. With `onlyStalled` (no --work-stealing) only stalled devices' queues are open.
 * Shards that already failed on the thief are skipped. Works before any shard has finished: the owner's
 * speed is then its calibration, or capped by the shard it has in flight (estimateRates).
 */
export function chooseSteal(view: SchedulingView, rates: RateEstimate, thief: number, options: { onlyStalled?: boolean } = {}): { victim: number; position: number } | null {
  const victims: Array<DeviceLoadView & { key: number }> = [];
  for (const v of view.devices) {
    if (v.key === thief || !v.live || v.queued.length === 0) continue;
    if (options.onlyStalled && !v.stalled) continue;
    const forbidden = new Set<number>();
    v.queued.forEach((u, pos) => u.failedOn.has(thief) && forbidden.add(pos));
    victims.push({ key: v.key, rate: rates.current[v.key], finishS: finishS(v, rates), queuedCosts: v.queued.map((u) => u.cost), forbidden });
  }
  return chooseTailSteal(rates.current[thief], victims, STEAL_MARGIN);
}

// ---- backup tasks ------------------------------------------------------------------------------

/**
 * Expected seconds until a shard in flight finishes on its device: what the device's record says is
 * left; once the shard has run past that (or the device has no record), as long again as it has run so
 * far (the record is wrong about it, and nothing better is known). Infinity on a stalled device.
 */
export function remainingS(d: DeviceView, rates: RateEstimate): number {
  if (!d.inFlight) return 0;
  if (d.stalled) return Infinity;
  const left = d.inFlight.cost / rates.record[d.key] - d.inFlight.elapsedS;
  return left > 0 ? left : d.inFlight.elapsedS;
}

/**
 * A backup task for an idle device (MapReduce's backup tasks): when no queue holds work, the idle device
 * may run a copy of a shard another device still runs, when it would finish that copy earlier than the
 * original by more than BACKUP_MARGIN of the original's remaining time. The first copy to finish
 * delivers the result; both compute the same thing. Picks the shard expected to finish last. Needs
 * speeds in seconds (something observed or calibrated) unless the original is stalled, at most MAX_COPIES
 * copies, and a shard that has not failed on the thief. With `onlyStalled` (no --work-stealing, or backup
 * tasks off) only shards on stalled devices are backed up.
 */
export function chooseBackup(view: SchedulingView, rates: RateEstimate, thief: number, options: { onlyStalled?: boolean } = {}): { owner: number; shard: string } | null {
  const me = view.devices.find((d) => d.key === thief);
  if (!me || !me.live || !me.idle || me.stalled) return null;
  if (view.devices.some((d) => d.live && d.queued.length > 0)) return null;
  let best: { owner: number; shard: string; remaining: number } | null = null;
  for (const d of view.devices) {
    const f = d.inFlight;
    if (d.key === thief || !d.live || !f || f.superseded || f.copies >= MAX_COPIES || f.failedOn.has(thief)) continue;
    if (!d.stalled && (options.onlyStalled || !rates.absolute)) continue;
    const remaining = remainingS(d, rates);
    const mine = f.cost / rates.current[thief];
    if (mine < remaining * (1 - BACKUP_MARGIN) && (!best || remaining > best.remaining)) best = { owner: d.key, shard: f.id, remaining };
  }
  return best && { owner: best.owner, shard: best.shard };
}

// ---- failures and stalls -----------------------------------------------------------------------

/** Where a shard that failed (or lost its device) goes: the live device that would start it soonest, preferring devices it has not failed on. */
export function requeueTarget(view: SchedulingView, rates: RateEstimate, failedOn: ReadonlySet<number>): number | null {
  const live = view.devices.filter((d) => d.live);
  if (live.length === 0) return null;
  const fresh = live.filter((d) => !failedOn.has(d.key));
  const pool = fresh.length > 0 ? fresh : live;
  let best = pool[0];
  for (const d of pool) if (finishS(d, rates) < finishS(best, rates)) best = d;
  return best.key;
}

/** A device with a shard in flight is stalled after STALL_TIMEOUT_S without finishing anything. */
export function isStalled(sinceProgressS: number, hasWorkInFlight: boolean): boolean {
  return hasWorkInFlight && sinceProgressS > STALL_TIMEOUT_S;
}
