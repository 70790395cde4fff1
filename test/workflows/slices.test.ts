// Slicing a planned run for N jobs (src/pipeline/slices.ts): the slice spec, and slices that are contiguous,
// cover every shard exactly once, balance the planned cost and depend on the plan alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../src/util/errors.js';
import { parseUnitSlice, planOnlyLines, shardsOfSlice, sliceLockName, sliceNumbers, sliceOfLockName } from '../../src/pipeline/slices.js';
import type { RunPlan } from '../../src/pipeline/workdir.js';

test('--units takes I/N with 1 <= I <= N, and refuses anything else with a usage error', () => {
  assert.deepEqual(parseUnitSlice('1/1'), { index: 1, count: 1 });
  assert.deepEqual(parseUnitSlice('3/8'), { index: 3, count: 8 });
  assert.deepEqual(parseUnitSlice(' 8 / 8 '), { index: 8, count: 8 });
  for (const bad of ['0/3', '4/3', '1/0', '0/0', '1.5/3', '1/2.0', '-1/3', '+1/3', '1e1/20', '3', '/3', '1/', 'a/b', '', '1/3/5', '99999999999999999999/99999999999999999999']) {
    assert.throws(
      () => parseUnitSlice(bad),
      (e: unknown) => e instanceof UsageError && e.exitCode === 2 && e.message === `--units must be I/N with whole numbers 1 <= I <= N (slice I of N), got '${bad}'` && /count from 1/.test(e.hint ?? ''),
      bad,
    );
  }
});

test('slices are contiguous, cover every shard once, and balance the planned cost within one shard', () => {
  // Growing shard costs, as --shard-tokens auto plans them, and a few large ones.
  const costs = Array.from({ length: 40 }, (_, k) => 1000 + 37 * k + (k % 7 === 0 ? 4000 : 0));
  const shards = costs.map((cost, k) => ({ index: k + 1, cost }));
  const total = costs.reduce((a, b) => a + b, 0);
  const largest = Math.max(...costs);
  for (const n of [1, 2, 3, 5, 8, 39, 40]) {
    const slices = sliceNumbers(shards, n);
    assert.deepEqual([...slices].sort((a, b) => a - b), slices, `n=${n}: contiguous, in plan order`);
    assert.equal(slices[0], 1);
    assert.equal(slices.at(-1), n);
    const union = Array.from({ length: n }, (_, i) => shardsOfSlice(shards, { index: i + 1, count: n })).flat();
    assert.deepEqual(union, shards, `n=${n}: every shard in exactly one slice`);
    for (let i = 1; i <= n; i++) {
      const mine = shardsOfSlice(shards, { index: i, count: n });
      assert.ok(mine.length > 0, `n=${n} slice ${i}: no slice is empty while there are shards enough`);
      const cost = mine.reduce((a, s) => a + s.cost, 0);
      assert.ok(Math.abs(cost - total / n) <= largest, `n=${n} slice ${i}: ${cost} vs ${total / n}`);
    }
  }
});

test('more slices than shards: the extra slices are empty; without usable costs, slices go by shard count', () => {
  const three = [{ cost: 5 }, { cost: 5 }, { cost: 5 }];
  const slices = sliceNumbers(three, 8);
  assert.equal(new Set(slices).size, 3);
  assert.equal(Array.from({ length: 8 }, (_, i) => shardsOfSlice(three, { index: i + 1, count: 8 }).length).reduce((a, b) => a + b, 0), 3);
  assert.deepEqual(sliceNumbers([], 4), []);
  // A plan.json edited by hand (a cost missing or negative) still gives every shard one slice.
  assert.deepEqual(sliceNumbers([{ cost: NaN }, { cost: 1 }, { cost: -1 }, { cost: 1 }], 2), [1, 1, 2, 2]);
  assert.deepEqual(sliceNumbers([{ cost: 0 }, { cost: 0 }], 2), [1, 2]);
});

test('slice locks are named by slice, and only those names are slice locks', () => {
  assert.equal(sliceLockName({ index: 2, count: 16 }), '.virnucpro.units-2-of-16.lock');
  assert.deepEqual(sliceOfLockName('.virnucpro.units-2-of-16.lock'), { index: 2, count: 16 });
  for (const other of ['.virnucpro.lock', '.virnucpro.units-2-of-16.lock.tmp', 'virnucpro.units-1-of-2.lock', '.virnucpro.units-a-of-2.lock']) {
    assert.equal(sliceOfLockName(other), null, other);
  }
});

test('--plan-only prints the next commands from the user\'s own, with -o spelled out and shell quoting', () => {
  const plan = { shards: [{}, {}, {}] } as unknown as RunPlan;
  const lines = planOnlyLines({ plan, outDir: '/runs/out dir', commandLine: ['predict', 'my reads.fa', '-e', '500', '--models', 'b', '--plan-only', '--force'] });
  assert.equal(lines[0], `--plan-only: 3 unit(s) of work (shards) planned in /runs/out dir/work/plan.json; nothing computed`);
  assert.equal(lines[2], `  virnucpro predict 'my reads.fa' -e 500 --models b -o '/runs/out dir' --resume --units I/N`);
  assert.equal(lines[4], `  virnucpro predict 'my reads.fa' -e 500 --models b -o '/runs/out dir' --resume`);
  // -o as given stays as given; without the user's command, a generic form.
  const given = planOnlyLines({ plan, outDir: '/abs/o', commandLine: ['predict', 'r.fa', '-o', 'o', '--plan-only', '--resume'] });
  assert.equal(given[4], '  virnucpro predict r.fa -o o --resume');
  assert.match(planOnlyLines({ plan, outDir: '/abs/o' })[2], /^ {2}virnucpro predict INPUT <the same flags> -o \/abs\/o --resume --units I\/N$/);
});
