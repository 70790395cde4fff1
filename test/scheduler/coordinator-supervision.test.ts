/**
 * Stalls, worker deaths, restarts, retirement, abort() and calibration,
 * driven step by step with in-memory workers on a manual clock
 * (fixtures/memory-run.ts): no sleeps, no timing margins.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { equalShards, MemoryRun, settle } from './fixtures/memory-run.js';
import { STALL_TIMEOUT_S } from '../../src/scheduler/policy.js';
import { MAX_WORKER_RESTARTS } from '../../src/scheduler/supervisor.js';

test('a stalled device is warned about, its queue is opened and its shard backed up, without --work-stealing', async () => {
  const run = new MemoryRun('cpu:2').start(equalShards(4));
  await run.ready(['cpu:0', 'cpu:1']);
  const stalls: string[] = [];
  run.coordinator.on('stall', (e) => stalls.push(e.device));
  await run.deliver(10, 'cpu:0');
  await run.deliver(20, 'cpu:0');
  await run.at(STALL_TIMEOUT_S); // cpu:1 has had shard-1 for exactly the timeout: not yet stalled
  assert.deepEqual(stalls, []);
  await run.at(STALL_TIMEOUT_S + 1);
  assert.deepEqual(stalls, ['cpu:1']);
  assert.ok(run.logs.includes('warning: device cpu:1 has made no progress for 301 s (shard shard-1); its queue of 1 is open to other devices'), run.logs.join('\n'));
  assert.ok(run.logs.includes('steal t=301.0s shard shard-3: cpu:1 (stalled) -> cpu:0'));
  assert.equal(run.coordinator.snapshot().devices[1].state, 'stalled');
  await run.deliver(311, 'cpu:0');
  assert.ok(run.logs.includes('backup t=311.0s shard shard-1: cpu:1 (stalled) still runs it, cpu:0 runs a copy'));
  await run.deliver(321, 'cpu:0');
  const report = run.report();
  assert.equal(report.complete, true);
  assert.deepEqual(
    run.delivered.map((d) => d.device),
    ['cpu:0', 'cpu:0', 'cpu:0', 'cpu:0'],
  );
  assert.equal(run.worker('cpu:1').killedWith, 'SIGTERM', 'the hung worker is stopped at the end');
});

test('a stalled device that delivers again is back to normal', async () => {
  const run = new MemoryRun('cpu:2').start(equalShards(4));
  await run.ready(['cpu:0', 'cpu:1']);
  await run.deliver(10, 'cpu:0');
  await run.deliver(20, 'cpu:0');
  await run.at(STALL_TIMEOUT_S + 1);
  await run.deliver(305, 'cpu:1');
  assert.ok(run.logs.includes('device cpu:1 is making progress again'));
  assert.equal(run.coordinator.snapshot().devices[1].state, 'idle', 'its queue went to cpu:0');
  await run.deliver(311, 'cpu:0');
  assert.equal(run.report().complete, true);
});

test('a worker that dies mid-shard is restarted and its shard requeued; after too many deaths the device is retired', async () => {
  const run = new MemoryRun('cpu:2').start(equalShards(4));
  await run.ready(['cpu:0', 'cpu:1']);
  const exits: string[] = [];
  run.coordinator.on('worker-exit', (e) => exits.push(`${e.device} ${e.signal ?? e.code}`));

  await run.at(5);
  run.worker('cpu:1').exit(null, 'SIGKILL');
  await settle();
  assert.ok(run.logs.includes('worker for cpu:1 killed by SIGKILL while processing shard shard-1'), run.logs.join('\n'));
  assert.ok(run.logs.includes('shard shard-1 failed on cpu:1 (worker on cpu:1 killed by SIGKILL); retrying (attempt 2 of 3)'));
  assert.ok(run.logs.includes(`restarting the worker for cpu:1 (restart 1 of ${MAX_WORKER_RESTARTS})`));
  assert.equal(run.coordinator.snapshot().devices[1].state, 'restarting');
  assert.equal(run.launcher.startedFor('cpu:1').length, 2);
  await run.ready(['cpu:1']);
  assert.deepEqual(run.worker('cpu:1').shardIds(), ['shard-3'], 'the restarted worker resumes its queue; shard-1 went to cpu:0');

  run.worker('cpu:1').exit(1, null);
  await settle();
  await run.ready(['cpu:1']);
  assert.deepEqual(run.worker('cpu:1').shardIds(), [], 'its queue is empty now');
  run.worker('cpu:1').exit(1, null);
  await settle();
  assert.ok(run.logs.includes(`device cpu:1 retired: worker died ${MAX_WORKER_RESTARTS + 1} times`), run.logs.join('\n'));
  assert.equal(run.launcher.startedFor('cpu:1').length, 1 + MAX_WORKER_RESTARTS);
  assert.deepEqual(exits, ['cpu:1 SIGKILL', 'cpu:1 1', 'cpu:1 1']);

  for (const t of [10, 20, 30, 40]) await run.deliver(t, 'cpu:0');
  const report = run.report();
  assert.equal(report.complete, true);
  assert.deepEqual(
    run.delivered.map((d) => d.shard),
    ['shard-0', 'shard-3', 'shard-1', 'shard-2'],
  );
  assert.deepEqual([report.devices[1].restarts, report.devices[1].failures], [MAX_WORKER_RESTARTS, 2]);
});

test('a worker that fails to restart retires its device; its queue goes to the others', async () => {
  const run = new MemoryRun('cpu:2').start(equalShards(4));
  await run.ready(['cpu:0', 'cpu:1']);
  run.worker('cpu:1').exit(null, 'SIGSEGV');
  await settle();
  const restarted = await run.launcher.started('cpu:1', 2);
  await restarted.next('init');
  restarted.reply({ type: 'init-error', error: { message: 'CUDA driver version is insufficient', kind: 'permanent' } });
  await settle();
  assert.ok(run.logs.includes('device cpu:1 retired: worker failed to restart: CUDA driver version is insufficient'), run.logs.join('\n'));
  assert.equal(restarted.killedWith, 'SIGKILL');
  for (const t of [10, 20, 30, 40]) await run.deliver(t, 'cpu:0');
  assert.equal(run.report().complete, true);
});

test('a permanent error retires the device at once; its shard goes elsewhere, uncounted', async () => {
  const run = new MemoryRun('cpu:2').start(equalShards(4));
  await run.ready(['cpu:0', 'cpu:1']);
  run.worker('cpu:1').reply({ type: 'shard-error', shardId: 'shard-1', error: { message: 'not implemented for webgpu', kind: 'permanent' } });
  await settle();
  assert.ok(run.logs.includes('device cpu:1 retired: it cannot run this work (not implemented for webgpu)'));
  assert.equal(run.worker('cpu:1').killedWith, 'SIGKILL');
  for (const t of [10, 20, 30, 40]) await run.deliver(t, 'cpu:0');
  const report = run.report();
  assert.equal(report.complete, true);
  assert.ok(!run.logs.some((l) => l.includes('retrying')));
  assert.equal(run.dispatches.find((d) => d.shard === 'shard-1' && d.device === 'cpu:0')?.attempt, 1, 'the failed attempt does not count');
});

test('abort(reason) stops every worker and run() rejects with the reason', async () => {
  const run = new MemoryRun('cpu:2').start(equalShards(4));
  await run.ready(['cpu:0', 'cpu:1']);
  await run.deliver(10, 'cpu:0');
  const reason = new Error('stopped by SIGINT');
  run.coordinator.abort(reason);
  await settle();
  assert.deepEqual(run.outcome, { error: reason });
  assert.ok(run.logs.includes('stopped by SIGINT: stopping 2 workers (1 of 4 shards done)'), run.logs.join('\n'));
  assert.deepEqual(
    run.launcher.workers.map((w) => [w.killedWith, w.exited]),
    [
      ['SIGTERM', true],
      ['SIGTERM', true],
    ],
  );
  assert.deepEqual(
    run.delivered.map((d) => d.shard),
    ['shard-0'],
  );
});

test('abort(reason) while the workers start rejects with the reason, not as a failed start', async () => {
  const run = new MemoryRun('cpu:2').start(equalShards(4));
  run.coordinator.abort(new Error('stopped by SIGTERM'));
  await settle();
  assert.ok(run.outcome && 'error' in run.outcome);
  assert.equal((run.outcome.error as Error).message, 'stopped by SIGTERM');
  assert.ok(run.launcher.workers.every((w) => w.exited));
});

test('abort(reason) before run() makes run() reject at once, starting no worker', async () => {
  const run = new MemoryRun('cpu:2');
  run.coordinator.abort(new Error('stopped by SIGINT'));
  run.start(equalShards(2));
  await settle();
  assert.ok(run.outcome && 'error' in run.outcome);
  assert.equal((run.outcome.error as Error).message, 'stopped by SIGINT');
  assert.equal(run.launcher.workers.length, 0);
});

test('a failed calibration is named, and the weights come from the built-in table', async () => {
  const run = new MemoryRun('cpu:2', { gpuWeighted: true }).start(equalShards(4));
  await run.ready(['cpu:0', 'cpu:1'], (id) => (id === 'cpu:0' ? { calibration: 2 } : { calibrationError: 'Error: probe failed' }));
  const init = run.worker('cpu:0').inbox[0];
  assert.equal(init.type === 'init' && init.calibrate, true);
  assert.ok(
    run.logs.some((l) => l.startsWith('scheduling 4 shards on 2 devices (weighted, no stealing; weights: built-in table (cpu:1: calibration failed (Error: probe failed)))')),
    run.logs.join('\n'),
  );
  run.coordinator.abort(new Error('done'));
  await settle();
});
