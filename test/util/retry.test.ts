import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelayMs, type RetryPolicy } from '../../src/util/retry.js';

const policy: RetryPolicy = { attempts: 5, baseDelayMs: 1000, maxDelayMs: 30_000 };

test('backoff doubles with each failure in a row, spread by at most 25% either way, and stops at the cap', () => {
  for (const [failures, base] of [[1, 1000], [2, 2000], [3, 4000], [5, 16_000], [6, 30_000], [20, 30_000]]) {
    assert.equal(backoffDelayMs(policy, failures, undefined, () => 0.5), base, `failure ${failures}, no jitter`);
    assert.equal(backoffDelayMs(policy, failures, undefined, () => 0), base * 0.75, `failure ${failures}, lowest`);
    assert.ok(backoffDelayMs(policy, failures, undefined, () => 0.999999) <= base * 1.25, `failure ${failures}, highest`);
  }
});

test('a delay the server asked for replaces the backoff, within the same cap', () => {
  assert.equal(backoffDelayMs(policy, 1, 7000, () => 0), 7000);
  assert.equal(backoffDelayMs(policy, 4, 0, () => 0.9), 0);
  assert.equal(backoffDelayMs(policy, 1, 120_000), 30_000);
});
