/**
 * Steals, prefetch and backup tasks, driven step by step with in-memory
 * workers on a manual clock (fixtures/memory-run.ts): every interleaving here
 * is exact, with no sleeps and no timing margins.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { equalShards, MemoryRun, settle } from './fixtures/memory-run.js';

/** Which device delivered each shard, in delivery order. */
function deliveries(run: MemoryRun): string[] {
  return run.delivered.map((d) => `${d.shard} ${d.device}`);
}

test('a worker holds one shard at a time, so queued work stays stealable and is stolen before the slow device delivers anything', async () => {
  const run = new MemoryRun('cpu:2', { workStealing: true }).start(equalShards(6));
  await run.ready(['cpu:0', 'cpu:1']);
  // LPT over equal costs: cpu:0 holds shard-0, 2, 4 and cpu:1 shard-1, 3, 5; each worker is sent only its first.
  assert.deepEqual(run.sends(), ['cpu:0 shard-0', 'cpu:1 shard-1']);
  assert.deepEqual(
    run.coordinator.snapshot().devices.map((d) => [d.inFlight, d.queueDepth]),
    [
      ['shard-0', 2],
      ['shard-1', 2],
    ],
  );
  await run.deliver(10, 'cpu:0');
  await run.deliver(20, 'cpu:0');
  assert.equal(run.steals.length, 0, 'at 20 s cpu:1 may still be as fast as cpu:0');
  await run.deliver(30, 'cpu:0');
  // cpu:0 has delivered 30 cost units in 30 s and its queue is empty. cpu:1 has run a 10-unit shard for 30 s
  // without delivering, so it is no faster than 1/3 unit per second: its queue would take it 60 s more.
  assert.deepEqual(
    run.steals.map((s) => [s.t, s.shard, s.from, s.to]),
    [[30, 'shard-5', 'cpu:1', 'cpu:0']],
  );
  assert.ok(run.logs.includes('steal t=30.0s shard shard-5: cpu:1 -> cpu:0'), run.logs.join('\n'));
  assert.equal(run.current('cpu:0'), 'shard-5');
  assert.deepEqual(run.worker('cpu:1').shardIds(), ['shard-1'], 'nothing was sent ahead to the busy worker');

  await run.deliver(40, 'cpu:0'); // and shard-3 follows
  assert.deepEqual(
    run.steals.map((s) => s.shard),
    ['shard-5', 'shard-3'],
  );
  await run.deliver(50, 'cpu:0');
  // The queues are empty; cpu:1 still runs shard-1 (50 s for 10 units): cpu:0 runs a backup copy.
  assert.deepEqual(run.dispatches.at(-1), { shard: 'shard-1', device: 'cpu:0', pid: undefined, attempt: 2, backup: true });
  await run.deliver(55, 'cpu:1');
  const report = run.report();
  assert.equal(report.complete, true);
  assert.deepEqual(deliveries(run), ['shard-0 cpu:0', 'shard-2 cpu:0', 'shard-4 cpu:0', 'shard-5 cpu:0', 'shard-3 cpu:0', 'shard-1 cpu:1']);
  assert.deepEqual(
    report.backups.map((b) => [b.shard, b.from, b.to, b.winner]),
    [['shard-1', 'cpu:1', 'cpu:0', 'cpu:1']],
  );
  assert.equal(report.devices[0].unused_s, 5, 'cpu:0 ran the unused copy from 50 s to 55 s');
  assert.equal(run.worker('cpu:0').killedWith, 'SIGTERM', 'the run does not wait for the unused copy');
});

/** Three shards on two devices: cpu:0 delivers shard-0 at 10 s and shard-2 at 20 s, then backs up cpu:1's shard-1. */
async function tailWithBackup(): Promise<MemoryRun> {
  const run = new MemoryRun('cpu:2', { workStealing: true }).start(equalShards(3));
  await run.ready(['cpu:0', 'cpu:1']);
  await run.deliver(10, 'cpu:0');
  assert.equal(run.backups.length, 0, 'shard-1 has run 10 s: as long as on cpu:0, no reason to copy it');
  await run.deliver(20, 'cpu:0');
  // 20 s on a 10-unit shard: cpu:1 is expected to need as long again, cpu:0 needs 10 s.
  assert.deepEqual(
    run.backups.map((b) => [b.t, b.shard, b.from, b.to]),
    [[20, 'shard-1', 'cpu:1', 'cpu:0']],
  );
  assert.ok(run.logs.includes('backup t=20.0s shard shard-1: cpu:1 still runs it, cpu:0 runs a copy'), run.logs.join('\n'));
  assert.deepEqual(run.worker('cpu:0').shardIds(), ['shard-0', 'shard-2', 'shard-1']);
  return run;
}

test('a backup copy that finishes first delivers the result; the original is stopped, not waited for', async () => {
  const run = await tailWithBackup();
  await run.deliver(30, 'cpu:0');
  const report = run.report();
  assert.equal(report.complete, true);
  assert.deepEqual(deliveries(run), ['shard-0 cpu:0', 'shard-2 cpu:0', 'shard-1 cpu:0']);
  assert.equal(report.backups[0].winner, 'cpu:0');
  assert.ok(run.logs.includes('backup: shard shard-1 delivered by cpu:0; the copy on cpu:1 is no longer needed'));
  assert.equal(report.makespan_s, 30);
  assert.deepEqual([report.devices[0].shards, report.devices[0].backups, report.devices[1].shards, report.devices[1].unused_s], [3, 1, 0, 30]);
  assert.equal(run.worker('cpu:1').killedWith, 'SIGTERM');
  assert.equal(run.worker('cpu:0').killedWith, null);
  assert.ok(run.worker('cpu:0').inbox.some((m) => m.type === 'shutdown'), 'the idle worker is shut down politely');
});

test('when the original finishes first its result is used and the backup copy is stopped', async () => {
  const run = await tailWithBackup();
  await run.deliver(25, 'cpu:1');
  const report = run.report();
  assert.deepEqual(deliveries(run), ['shard-0 cpu:0', 'shard-2 cpu:0', 'shard-1 cpu:1']);
  assert.equal(report.backups[0].winner, 'cpu:1');
  assert.equal(report.devices[0].unused_s, 5);
  assert.equal(run.worker('cpu:0').killedWith, 'SIGTERM');
});

test('two copies delivering in the same turn give one result', async () => {
  const run = await tailWithBackup();
  await run.at(30);
  run.send('cpu:1');
  run.send('cpu:0');
  await settle();
  assert.deepEqual(deliveries(run), ['shard-0 cpu:0', 'shard-2 cpu:0', 'shard-1 cpu:1']);
  assert.equal(run.report().shards_done, 3);
});

test('a copy that fails while its backup runs is not retried: the backup delivers', async () => {
  const run = await tailWithBackup();
  await run.at(22);
  run.worker('cpu:1').reply({ type: 'shard-error', shardId: 'shard-1', error: { message: 'CUDA error: an illegal memory access', kind: 'transient' } });
  await settle();
  assert.ok(run.logs.includes('shard shard-1 failed on cpu:1 (CUDA error: an illegal memory access); its copy on cpu:0 still runs'), run.logs.join('\n'));
  assert.deepEqual(run.worker('cpu:1').shardIds(), ['shard-1'], 'not sent again');
  await run.deliver(30, 'cpu:0');
  const report = run.report();
  assert.equal(report.complete, true);
  assert.deepEqual(report.failed, []);
  assert.equal(report.devices[1].failures, 1);
});

test('a steal and the owner finishing in the same turn never send a shard twice', async () => {
  // cpu:0 delivers first: it steals shard-3 from cpu:1, whose result then finds its queue empty.
  const first = new MemoryRun('cpu:2', { workStealing: true }).start(equalShards(4));
  await first.ready(['cpu:0', 'cpu:1']);
  await first.deliver(10, 'cpu:0');
  await first.at(20);
  first.send('cpu:0');
  first.send('cpu:1');
  await settle();
  assert.deepEqual(first.sends(), ['cpu:0 shard-0', 'cpu:0 shard-2', 'cpu:0 shard-3', 'cpu:1 shard-1']);
  await first.deliver(30, 'cpu:0');
  assert.deepEqual(deliveries(first), ['shard-0 cpu:0', 'shard-2 cpu:0', 'shard-1 cpu:1', 'shard-3 cpu:0']);

  // cpu:1 delivers first: it starts its own shard-3, which cpu:0 (twice as fast) then backs up.
  const second = new MemoryRun('cpu:2', { workStealing: true }).start(equalShards(4));
  await second.ready(['cpu:0', 'cpu:1']);
  await second.deliver(10, 'cpu:0');
  await second.at(20);
  second.send('cpu:1');
  second.send('cpu:0');
  await settle();
  assert.equal(second.steals.length, 0);
  assert.deepEqual(
    second.dispatches.filter((d) => d.shard === 'shard-3').map((d) => [d.device, d.backup]),
    [
      ['cpu:1', false],
      ['cpu:0', true],
    ],
  );
  await second.deliver(30, 'cpu:0');
  assert.deepEqual(deliveries(second), ['shard-0 cpu:0', 'shard-1 cpu:1', 'shard-2 cpu:0', 'shard-3 cpu:0']);
  assert.equal(second.report().complete, true);
});

test('without --work-stealing nothing moves between healthy devices and nothing is copied', async () => {
  const run = new MemoryRun('cpu:2').start(equalShards(4));
  await run.ready(['cpu:0', 'cpu:1']);
  await run.deliver(10, 'cpu:0');
  await run.deliver(20, 'cpu:0');
  await run.at(200);
  assert.deepEqual([run.steals, run.backups], [[], []]);
  assert.deepEqual(run.worker('cpu:0').shardIds(), ['shard-0', 'shard-2']);
  await run.deliver(210, 'cpu:1');
  await run.deliver(220, 'cpu:1');
  assert.equal(run.report().complete, true);
});
