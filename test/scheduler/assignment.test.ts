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
