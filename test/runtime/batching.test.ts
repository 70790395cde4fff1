import { test } from 'node:test';
import assert from 'node:assert/strict';
import { paddingWaste, planBatches } from '../../src/runtime/batching.js';

test('batches are longest first, under the token budget, and cover every index once', () => {
  const lengths = [5, 100, 7, 7, 60, 1, 30, 30, 30, 2];
  const batches = planBatches(lengths, { batchTokens: 100 });
  const seen = batches.flatMap((b) => b.indices).sort((a, b) => a - b);
  assert.deepEqual(seen, lengths.map((_, i) => i));
  for (const b of batches) {
    assert.equal(b.maxLen, Math.max(...b.indices.map((i) => lengths[i])));
    assert.ok(b.indices.length === 1 || b.indices.length * b.maxLen <= 100);
  }
  assert.deepEqual(batches[0].indices, [1]);
  assert.deepEqual(batches[2].indices, [6, 7, 8]); // ties keep input order
});

test('a sequence over the budget runs alone; maxRows caps rows', () => {
  assert.deepEqual(planBatches([500, 10], { batchTokens: 100 }).map((b) => b.indices), [[0], [1]]);
  assert.deepEqual(planBatches([1, 1, 1, 1, 1], { batchTokens: 100, maxRows: 2 }).map((b) => b.indices), [[0, 1], [2, 3], [4]]);
  assert.throws(() => planBatches([1], { batchTokens: 0 }), /batchTokens/);
  assert.deepEqual(planBatches([], { batchTokens: 10 }), []);
});

test('padding waste stays small on a realistic protein length mix', () => {
  // VirNucPro proteins from 500 nt chunks: mostly 100-167 aa, a tail of shorter ones.
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const lengths = Array.from({ length: 5000 }, () => 2 + (rand() < 0.8 ? 100 + Math.floor(rand() * 67) : 10 + Math.floor(rand() * 90)));
  const waste = paddingWaste(lengths, planBatches(lengths, { batchTokens: 4096 }));
  assert.ok(waste < 0.05, `padding waste ${waste}`);
  assert.equal(paddingWaste([3, 3], [{ indices: [0, 1], maxLen: 3 }]), 0);
});

test('a few hundred sequences of spread-out lengths are cut where lengths drop, not only where batches fill', () => {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const lengths = Array.from({ length: 96 }, () => 32 + Math.floor(rand() * 138));
  const batches = planBatches(lengths, { batchTokens: 4096 });
  assert.deepEqual(batches.flatMap((b) => b.indices).sort((a, b) => a - b), lengths.map((_, i) => i));
  for (const b of batches) assert.ok(b.indices.length * b.maxLen <= 4096);
  // Filling each batch to the budget wastes about 15% here.
  const waste = paddingWaste(lengths, batches);
  assert.ok(waste < 0.11, `padding waste ${waste}`);
});
