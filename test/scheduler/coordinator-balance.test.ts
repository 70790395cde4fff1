/**
 * Load balancing end to end on simulated devices (fixtures/simulated-devices.ts):
 * in-memory workers that take cost / speed seconds of a manual clock per
 * shard. Whole runs take milliseconds and are exactly repeatable, so the
 * policy's figures can be asserted without timing margins.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../../src/util/random.js';
import { balance, runSimulated, shardsOf, simulate } from './fixtures/simulated-devices.js';

/** `n` shard costs uniform in [0.5, 1.5), scaled so that the ideal makespan on `speeds` is 60 s. */
function costs(n: number, seed: number, speeds: readonly number[]): number[] {
  const r = seededRandom(seed);
  const raw = Array.from({ length: n }, () => 0.5 + r());
  const total = raw.reduce((a, b) => a + b, 0);
  const speed = speeds.reduce((a, b) => a + b, 0);
  return raw.map((c) => (c / total) * 60 * speed);
}

test('stealing happens when one device is slowed, each steal is logged, and the fast device does more', async () => {
  const speeds = [1, 0.125];
  const sim = simulate(speeds, { workStealing: true });
  const shards = shardsOf(costs(24, 3, speeds));
  const { report } = await runSimulated(sim, shards);
  assert.equal(report.complete, true);
  assert.ok(report.steals.length > 0, 'no steal happened');
  for (const s of report.steals) {
    assert.deepEqual([s.from, s.to], ['cpu:1', 'cpu:0']);
    assert.ok(sim.logs.includes(`steal t=${s.t.toFixed(1)}s shard ${s.shard}: cpu:1 -> cpu:0`));
  }
  const [fast, slow] = report.devices;
  assert.deepEqual([fast.stolen_in, slow.stolen_out], [report.steals.length, report.steals.length]);
  assert.ok(fast.shards > slow.shards);
});

test('with --work-stealing and nothing else, 1:0.25 and 1:1:1:0.25 devices finish within 1.05x the ideal', async () => {
  for (const speeds of [
    [1, 0.25],
    [1, 1, 1, 0.25],
  ]) {
    for (const seed of [1, 2, 3]) {
      const shards = shardsOf(costs(128, seed, speeds));
      const stealing = await runSimulated(simulate(speeds, { workStealing: true }), shards);
      const statically = await runSimulated(simulate(speeds), shards);
      const label = `speeds ${speeds.join(':')} seed ${seed}`;
      assert.ok(balance(stealing.report, shards, speeds) <= 1.05, `${label}: ${balance(stealing.report, shards, speeds)}`);
      assert.ok(balance(statically.report, shards, speeds) > 2, `${label}: the static split should be far off`);
    }
  }
});

test('at the tail a fast idle device backs up the slow device: three shards on 1:0.25', async () => {
  // The case: too few shards to balance by stealing alone. The equal split gives cpu:0 shard 0 and
  // cpu:1 shards 1 and 2; cpu:0 steals shard 2 before cpu:1 has delivered anything, then copies shard 1.
  const speeds = [1, 0.25];
  const shards = shardsOf([40, 30, 25]);
  const withBackups = await runSimulated(simulate(speeds, { workStealing: true }), shards);
  const without = await runSimulated(simulate(speeds, { workStealing: true, backupTasks: false }), shards);
  assert.deepEqual(
    withBackups.report.steals.map((s) => [s.t, s.shard]),
    [[40, 'shard-002']],
  );
  assert.deepEqual(
    withBackups.report.backups.map((b) => [b.shard, b.from, b.to, b.winner]),
    [['shard-001', 'cpu:1', 'cpu:0', 'cpu:0']],
  );
  assert.equal(without.report.makespan_s, 120, 'cpu:1 needs 120 s for its 30 units');
  assert.ok(withBackups.report.makespan_s < 120 * 0.9, `with a backup: ${withBackups.report.makespan_s} s`);
  assert.equal(withBackups.results.get('shard-001')?.device, 'cpu:0');
});

test('whatever the speeds, and speeds that change mid-run, every shard is delivered exactly once', async () => {
  for (let seed = 1; seed <= 40; seed++) {
    const r = seededRandom(seed);
    const devices = 2 + Math.floor(r() * 3);
    const speeds = Array.from({ length: devices }, () => 0.1 + r() * 2);
    // Some devices turn slow (a shared GPU) or fast part way through.
    const changeAt = speeds.map(() => r() * 60);
    const factor = speeds.map(() => (r() < 0.5 ? 1 : 0.1 + r() * 3));
    const shards = shardsOf(Array.from({ length: 10 + Math.floor(r() * 60) }, () => 1 + r() * 9));
    const sim = simulate(speeds, { workStealing: r() < 0.8, gpuWeighted: r() < 0.3 }, (i, t) => speeds[i] * (t >= changeAt[i] ? factor[i] : 1));
    const { report, results } = await runSimulated(sim, shards);
    const label = `seed ${seed}`;
    assert.equal(report.complete, true, label);
    assert.equal(results.size, shards.length, label);
    for (const s of shards) {
      assert.equal(results.get(s.id)?.count, 1, `${label}: ${s.id}`);
      assert.equal(results.get(s.id)?.result, s.id, label);
    }
    assert.equal(report.devices.reduce((a, d) => a + d.shards, 0), shards.length, label);
    assert.equal(report.devices.reduce((a, d) => a + d.stolen_in, 0), report.steals.length, label);
    assert.equal(report.devices.reduce((a, d) => a + d.backups, 0), report.backups.length, label);
    for (const b of report.backups) assert.ok(b.winner === b.from || b.winner === b.to, `${label}: ${JSON.stringify(b)}`);
  }
});
