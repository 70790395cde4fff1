/**
 * Pure scheduling decisions, kept apart from processes and timers so they can
 * be read and tested on their own: the initial split of shards over devices,
 * and which shard an idle device steals.
 */

/**
 * Initial assignment: longest-processing-time-first. Shards are taken in
 * decreasing cost and each goes to the device that would finish it first
 * given its weight (load / weight). Equal weights give the static split; the
 * per-device order is largest first, so the tail of every queue holds the
 * small shards, which are the cheapest to steal. Ties keep input order, so
 * the split is deterministic.
 */
export function assignByWeight(costs: readonly number[], weights: readonly number[]): number[][] {
  if (weights.length === 0) throw new Error('assignByWeight: no devices');
  const order = costs.map((_, i) => i).sort((a, b) => costs[b] - costs[a] || a - b);
  const queues: number[][] = weights.map(() => []);
  const load = weights.map(() => 0);
  for (const i of order) {
    let best = 0;
    let bestFinish = Infinity;
    for (let d = 0; d < weights.length; d++) {
      const finish = (load[d] + costs[i]) / weights[d];
      if (finish < bestFinish - 1e-12) {
        best = d;
        bestFinish = finish;
      }
    }
    queues[best].push(i);
    load[best] += costs[i];
  }
  return queues;
}

/** What the steal policy needs to know about a device. */
export interface DeviceLoadView {
  /** Cost per second this device achieves (observed, or estimated from its weight). */
  rate: number;
  /** Seconds until it finishes everything it holds (Infinity when stalled). */
  finishS: number;
  /** Costs of the queued (not started) shards, head first. */
  queuedCosts: readonly number[];
  /** Queue positions the thief may not take (shards that already failed on the thief). */
  forbidden?: ReadonlySet<number>;
}

/**
 * Picks a shard for an idle device to steal: from the tail of the queue of the
 * device that will finish last, when the thief would finish that shard
 * earlier than its owner by more than `threshold` (a fraction of the owner's
 * finish time). Returns null when no steal shortens the run.
 */
export function chooseSteal(
  thiefRate: number,
  victims: ReadonlyArray<DeviceLoadView & { key: number }>,
  threshold: number,
): { victim: number; position: number } | null {
  const ordered = victims.filter((v) => v.queuedCosts.length > 0).sort((a, b) => b.finishS - a.finishS);
  for (const v of ordered) {
    for (let pos = v.queuedCosts.length - 1; pos >= 0; pos--) {
      if (v.forbidden?.has(pos)) continue;
      const thiefFinish = v.queuedCosts[pos] / thiefRate;
      if (thiefFinish < v.finishS * (1 - threshold)) return { victim: v.key, position: pos };
      break; // only the tail (first allowed) shard is a candidate
    }
  }
  return null;
}
