/**
 * The rebalancing policy on plain snapshots: speed estimates before any
 * result, steals, backup tasks, requeues and weights (policy.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BACKUP_MARGIN,
  chooseBackup,
  chooseSteal,
  chooseWeights,
  estimateRates,
  finishS,
  remainingS,
  requeueTarget,
  type DeviceView,
  type SchedulingView,
  type UnitView,
} from '../../src/scheduler/policy.js';

const none: ReadonlySet<number> = new Set();

function unit(id: string, cost: number, failedOn: ReadonlySet<number> = none): UnitView {
  return { id, cost, failedOn };
}

/** A device view with defaults: live, idle, weight 1, nothing finished, empty queue. */
function device(key: number, over: Partial<DeviceView> = {}): DeviceView {
  return { key, live: true, stalled: false, idle: true, weight: 1, finished: { cost: 0, seconds: 0 }, queued: [], inFlight: null, ...over };
}

function busy(key: number, id: string, cost: number, elapsedS: number, over: Partial<DeviceView> = {}, copies = 1): DeviceView {
  return device(key, { idle: false, inFlight: { ...unit(id, cost), elapsedS, copies, superseded: false }, ...over });
}

function view(...devices: DeviceView[]): SchedulingView {
  return { devices, weightsAreRates: false };
}

test('a device that has finished nothing is no faster than its shard in flight allows', () => {
  // cpu:0 finished 20 cost units in 10 s (rate 2); cpu:1 has run a 10-unit shard for 20 s without finishing.
  const v = view(device(0, { finished: { cost: 20, seconds: 10 } }), busy(1, 'a', 10, 20, { queued: [unit('b', 10)] }));
  const rates = estimateRates(v);
  assert.equal(rates.absolute, true);
  assert.equal(rates.record[1], 2, 'its record: the weight scaled like the observed device');
  assert.equal(rates.current[1], 0.5, 'capped by 10 units in 20 s');
  assert.equal(finishS(v.devices[1], rates), 20, 'its queue at 0.5/s; the shard in flight may end any moment');
});

test('an idle device steals before the slow device has delivered anything', () => {
  // The case: both started a 10-unit shard at once; the thief finished its own in 5 s (rate 2) and
  // the owner, which has delivered nothing, holds one more shard in its queue.
  const at = (elapsedS: number) => view(device(0, { finished: { cost: 10, seconds: 5 } }), busy(1, 'a', 10, elapsedS, { queued: [unit('b', 10)] }));
  // At 5 s the owner may be as fast as the thief: taking 'b' gains nothing.
  assert.equal(chooseSteal(at(5), estimateRates(at(5)), 0), null);
  // At 6 s it is slower than the thief (10 units in more than 6 s), so 'b' moves: no waiting for its first result.
  assert.deepEqual(chooseSteal(at(6), estimateRates(at(6)), 0), { victim: 1, position: 0 });
});

test('a steal skips shards that failed on the thief and, without --work-stealing, queues that are not stalled', () => {
  const v = view(device(0, { finished: { cost: 20, seconds: 10 } }), busy(1, 'a', 10, 20, { queued: [unit('b', 10), unit('c', 4, new Set([0]))] }));
  assert.deepEqual(chooseSteal(v, estimateRates(v), 0), { victim: 1, position: 0 });
  assert.equal(chooseSteal(v, estimateRates(v), 0, { onlyStalled: true }), null);
  const stalled = view(device(0), busy(1, 'a', 10, 400, { stalled: true, queued: [unit('b', 10)] }));
  assert.deepEqual(chooseSteal(stalled, estimateRates(stalled), 0, { onlyStalled: true }), { victim: 1, position: 0 });
});

test('a shard in flight is expected to need what its device record says, else as long again as it has run', () => {
  const rates = { record: [1, 0.25], current: [1, 0.25], absolute: true };
  assert.equal(remainingS(busy(1, 'a', 10, 30), rates), 10, 'rate 0.25: 40 s in all, 30 s done');
  assert.equal(remainingS(busy(1, 'a', 10, 50), rates), 50, 'overdue: the record is wrong about it');
  assert.equal(remainingS(busy(1, 'a', 10, 5, { stalled: true }), rates), Infinity);
});

test('backup tasks: only with empty queues, only for a clear win, the shard expected to finish last', () => {
  const fast = device(0, { finished: { cost: 40, seconds: 40 } });
  const slow = (elapsedS: number, over: Partial<DeviceView> = {}) => busy(1, 'slow-shard', 10, elapsedS, { finished: { cost: 10, seconds: 40 }, ...over });
  // The slow device needs 40 s for the shard; 5 s in, 35 s are left; the fast device needs 10 s.
  assert.deepEqual(chooseBackup(view(fast, slow(5)), estimateRates(view(fast, slow(5))), 0), { owner: 1, shard: 'slow-shard' });
  // 28 s in, 12 s are left: 10 s is not clearly earlier (the margin is BACKUP_MARGIN of 12 s).
  assert.ok(10 >= 12 * (1 - BACKUP_MARGIN));
  assert.equal(chooseBackup(view(fast, slow(28)), estimateRates(view(fast, slow(28))), 0), null);
  // Work still queued anywhere: stealing comes first.
  const queued = view(fast, slow(5, { queued: [unit('q', 1)] }));
  assert.equal(chooseBackup(queued, estimateRates(queued), 0), null);
  // A shard that failed on the thief, or already with a backup, is not copied.
  const failed = view(fast, device(1, { idle: false, finished: { cost: 10, seconds: 40 }, inFlight: { ...unit('s', 10, new Set([0])), elapsedS: 5, copies: 1, superseded: false } }));
  assert.equal(chooseBackup(failed, estimateRates(failed), 0), null);
  const twice = view(fast, busy(1, 's', 10, 5, { finished: { cost: 10, seconds: 40 } }, 2));
  assert.equal(chooseBackup(twice, estimateRates(twice), 0), null);
  // Of two candidates, the one expected to finish last.
  const two = view(fast, slow(5), busy(2, 'later', 10, 1, { finished: { cost: 10, seconds: 40 } }));
  assert.deepEqual(chooseBackup(two, estimateRates(two), 0), { owner: 2, shard: 'later' });
  // Backup tasks off (or no --work-stealing): only stalled shards.
  assert.equal(chooseBackup(view(fast, slow(5)), estimateRates(view(fast, slow(5))), 0, { onlyStalled: true }), null);
  const hung = view(fast, slow(5, { stalled: true }));
  assert.deepEqual(chooseBackup(hung, estimateRates(hung), 0, { onlyStalled: true }), { owner: 1, shard: 'slow-shard' });
});

test('without any speed in seconds, only a stalled shard is backed up', () => {
  // Nothing finished, weights are ratios: no estimate is in seconds.
  const v = view(device(0), busy(1, 'a', 10, 100));
  assert.equal(estimateRates(v).absolute, false);
  assert.equal(chooseBackup(v, estimateRates(v), 0), null);
  const hung = view(device(0), busy(1, 'a', 10, 400, { stalled: true }));
  assert.deepEqual(chooseBackup(hung, estimateRates(hung), 0), { owner: 1, shard: 'a' });
});

test('a failed shard goes to the device that would start it soonest, not one it failed on', () => {
  const v = view(busy(0, 'x', 10, 0, { finished: { cost: 10, seconds: 10 } }), device(1, { finished: { cost: 10, seconds: 10 } }), device(2, { live: false }));
  const rates = estimateRates(v);
  assert.equal(requeueTarget(v, rates, new Set()), 1);
  assert.equal(requeueTarget(v, rates, new Set([1])), 0);
  assert.equal(requeueTarget(v, rates, new Set([0, 1])), 1, 'failed everywhere: still the soonest live device');
  assert.equal(requeueTarget(view(device(0, { live: false })), rates, new Set()), null);
});

test('weights say where they came from, and why not from calibration', () => {
  const base = { ids: ['cuda:0', 'cuda:1'], live: [true, true], weighted: true, calibrate: true, table: [2, 1] };
  assert.deepEqual(chooseWeights({ ...base, calibrations: [{ rate: 4 }, { rate: 1 }] }), { weights: [4, 1], source: 'calibration', areRates: true });
  const failed = chooseWeights({ ...base, calibrations: [{ rate: 4 }, { failed: 'CUDA error: out of memory' }] });
  assert.deepEqual(failed.weights, [2, 1]);
  assert.equal(failed.source, 'built-in table (cuda:1: calibration failed (CUDA error: out of memory))');
  assert.equal(chooseWeights({ ...base, calibrations: [{ unsupported: true }, { rate: 0 }] }).source, 'built-in table (cuda:0: the shard handler has no calibrate(); cuda:1: calibration gave 0)');
  // A device that did not start does not spoil the others' calibration.
  assert.equal(chooseWeights({ ...base, live: [true, false], calibrations: [{ rate: 4 }, undefined] }).source, 'calibration');
  assert.equal(chooseWeights({ ...base, calibrate: false, calibrations: [] }).source, 'built-in table');
  assert.equal(chooseWeights({ ...base, explicit: [1, 3], calibrations: [] }).source, 'given (--gpu-weights)');
  assert.deepEqual(chooseWeights({ ...base, weighted: false, calibrations: [] }), { weights: [1, 1], source: 'equal', areRates: false });
});
