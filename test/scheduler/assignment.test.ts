import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignByWeight, chooseSteal } from '../../src/scheduler/assignment.js';

test('equal weights split by cost, not by count', () => {
  const costs = [10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
  const queues = assignByWeight(costs, [1, 1]);
  const load = queues.map((q) => q.reduce((a, i) => a + costs[i], 0));
  assert.deepEqual(load, [10, 10]);
  assert.deepEqual(queues[0], [0]);
  assert.deepEqual([...queues[0], ...queues[1]].sort((a, b) => a - b), costs.map((_, i) => i));
});

test('weights give proportional shares, largest shards first in each queue', () => {
  const costs = Array.from({ length: 70 }, (_, i) => 1 + (i % 5));
  const queues = assignByWeight(costs, [1, 2, 4]);
  const load = queues.map((q) => q.reduce((a, i) => a + costs[i], 0));
  const total = load.reduce((a, b) => a + b, 0);
  [1, 2, 4].forEach((w, d) => assert.ok(Math.abs(load[d] / total - w / 7) < 0.02, `device ${d}: ${load[d]} of ${total}`));
  for (const q of queues) for (let k = 1; k < q.length; k++) assert.ok(costs[q[k - 1]] >= costs[q[k]]);
});

test('the split is deterministic for equal costs', () => {
  assert.deepEqual(assignByWeight([1, 1, 1, 1], [1, 1]), [
    [0, 2],
    [1, 3],
  ]);
});

test('an idle device steals the tail shard of the device that finishes last, only when it helps', () => {
  const victims = [
    { key: 0, rate: 1, finishS: 5, queuedCosts: [2, 2] },
    { key: 1, rate: 1, finishS: 20, queuedCosts: [8, 6, 3] },
  ];
  assert.deepEqual(chooseSteal(1, victims, 0.1), { victim: 1, position: 2 });
  // The owner finishes the tail shard (cost 3) in 3 s; a thief at rate 1 also needs 3 s: no gain.
  assert.equal(chooseSteal(1, [{ key: 0, rate: 1, finishS: 3, queuedCosts: [3] }], 0.1), null);
  // A thief may not take a shard that already failed on it.
  assert.equal(chooseSteal(1, [{ key: 0, rate: 1, finishS: 50, queuedCosts: [3], forbidden: new Set([0]) }], 0.1), null);
  // A stalled owner (Infinity) always gives its tail away.
  assert.deepEqual(chooseSteal(0.01, [{ key: 4, rate: 1, finishS: Infinity, queuedCosts: [5, 5] }], 0.1), { victim: 4, position: 1 });
});

test('no devices is a programming error', () => {
  assert.throws(() => assignByWeight([1, 2], []), /no devices/);
});

test('unequal weights: each shard goes to the device that would finish it first (load / weight)', () => {
  // Costs 4, 3, 2, 1 in turn: 4 -> device 1 (4/3 < 4/1); 3 -> device 1 (7/3 < 3/1); 2 -> device 0 (2/1 < 9/3);
  // 1 -> device 1 (8/3 < 3/1).
  assert.deepEqual(assignByWeight([3, 4, 1, 2], [1, 3]), [[3], [1, 0, 2]]);
  // A single shard goes to the fastest device even when it is not the first.
  assert.deepEqual(assignByWeight([5], [1, 2, 1]), [[], [0], []]);
});

test('a device ahead by rounding noise only (1e-12) does not take a shard from a lower-numbered device', () => {
  // Third shard: device 0 would finish at 1.5, device 1 at 1.5 - 1e-12 exactly: a tie, so device 0.
  assert.deepEqual(assignByWeight([1, 1 - 1e-12, 0.5], [1, 1]), [[0, 2], [1]]);
});

test('only the tail shard is a steal candidate, even when an earlier one would pay off', () => {
  // Tail 9 at rate 1 takes 9 s, not less than 10 * (1 - 0.1): no steal, although the head (1) would be quick.
  assert.equal(chooseSteal(1, [{ key: 0, rate: 1, finishS: 10, queuedCosts: [1, 9] }], 0.1), null);
  // Strictly less is required: 5 s is not less than 10 * (1 - 0.5).
  assert.equal(chooseSteal(1, [{ key: 0, rate: 1, finishS: 10, queuedCosts: [5] }], 0.5), null);
  // A one-shard queue gives its only (tail) shard.
  assert.deepEqual(chooseSteal(1, [{ key: 7, rate: 1, finishS: 50, queuedCosts: [3] }], 0.1), { victim: 7, position: 0 });
});

test('a forbidden tail makes the shard before it the candidate', () => {
  const victim = { key: 2, rate: 1, finishS: 30, queuedCosts: [1, 2, 3], forbidden: new Set([2]) };
  assert.deepEqual(chooseSteal(1, [victim], 0.1), { victim: 2, position: 1 });
  assert.equal(chooseSteal(1, [{ ...victim, forbidden: new Set([0, 1, 2]) }], 0.1), null);
});

test('the thief time is cost / its rate; the next-slowest victim is tried when the slowest gives nothing', () => {
  // At rate 2 the tail (8) takes 4 s < 4.5 s; at rate 0.5 it would take 16 s.
  assert.deepEqual(chooseSteal(2, [{ key: 0, rate: 1, finishS: 5, queuedCosts: [8] }], 0.1), { victim: 0, position: 0 });
  assert.equal(chooseSteal(0.5, [{ key: 0, rate: 1, finishS: 5, queuedCosts: [8] }], 0.1), null);
  const victims = [
    { key: 0, rate: 1, finishS: 12, queuedCosts: [2] },
    { key: 1, rate: 1, finishS: 20, queuedCosts: [19] },
    { key: 2, rate: 1, finishS: 8, queuedCosts: [] },
  ];
  assert.deepEqual(chooseSteal(1, victims, 0.1), { victim: 0, position: 0 });
  // The caller's list is left in its order.
  assert.deepEqual(victims.map((v) => v.key), [0, 1, 2]);
});
