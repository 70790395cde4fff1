import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Coordinator, type CoordinatorOptions } from '../../src/scheduler/coordinator.js';
import { resolveDevices } from '../../src/scheduler/devices.js';
import type { ShardDescriptor } from '../../src/scheduler/types.js';
import { writeFileAtomic } from '../../src/util/atomic.js';
import { tempDir, pidAlive } from '../helpers.js';
import { expectedWork, type WorkInit, type WorkPayload, type WorkResult } from './fixtures/work-handler.js';
import { seededRandom } from '../../src/util/random.js';

const handlerModule = new URL('./fixtures/work-handler.ts', import.meta.url).pathname;
const init: WorkInit = { hashRoundsPerCost: 20, sleepMsPerCost: 2 };

function makeShards(n: number, seed = 1, extra: (i: number) => Partial<WorkPayload> = () => ({})): ShardDescriptor[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => {
    const cost = 2 + Math.floor(r() * 10);
    const payload: WorkPayload = { seed: `shard-${i}`, cost, ...extra(i) };
    return { id: `shard-${String(i).padStart(3, '0')}`, cost, payload, tokens: cost * 100, sequences: cost };
  });
}

function coordinator(devices: string, options: Partial<CoordinatorOptions> = {}, logs: string[] = []): Coordinator {
  return new Coordinator({
    devices: resolveDevices({ devices }, []),
    handler: { module: handlerModule, init },
    log: (line) => logs.push(line),
    stealIntervalS: 0.2,
    ...options,
  });
}


test('under stealing with random device speeds no shard is lost or done twice', async () => {
  for (const seed of [7, 8]) {
    const r = seededRandom(seed);
    const slowdown = [0, 1, 2].map((i) => `${i}=${(1 + r() * 4).toFixed(2)}`).join(',');
    const shards = makeShards(36, seed);
    const seen = new Map<string, number>();
    const results = new Map<string, WorkResult>();
    const c = coordinator('cpu:3', { workStealing: true, env: { VIRNUCPRO_DEVICE_SLOWDOWN: slowdown } });
    const report = await c.run(shards, (shard, result) => {
      seen.set(shard.id, (seen.get(shard.id) ?? 0) + 1);
      results.set(shard.id, result as WorkResult);
    });
    assert.equal(report.complete, true, `slowdown ${slowdown}`);
    assert.equal(seen.size, shards.length);
    for (const s of shards) {
      assert.equal(seen.get(s.id), 1, `${s.id} handled ${seen.get(s.id)} times (slowdown ${slowdown})`);
      assert.deepEqual(results.get(s.id), expectedWork(s.payload as WorkPayload, init));
    }
    assert.equal(report.devices.reduce((a, d) => a + d.shards, 0), shards.length);
    assert.equal(report.devices.reduce((a, d) => a + d.stolen_in, 0), report.steals.length);
    assert.equal(report.devices.reduce((a, d) => a + d.tokens, 0), shards.reduce((a, s) => a + (s.tokens ?? 0), 0));
  }
});

test('a worker SIGKILLed mid-shard is restarted and the shard is requeued; the run completes', async () => {
  // The victim's first run writes the marker and then holds the shard, so the kill lands mid-shard
  // whatever the machine's speed; its second run does the work.
  const marker = join(tempDir(), 'victim-started');
  const shards = makeShards(12, 4, (i) => (i === 5 ? { holdOnce: marker } : {}));
  const victim = shards[5].id;
  const c = coordinator('cpu:2', { workStealing: false });
  let killed = 0;
  c.on('dispatch', ({ shard, attempt, pid }) => {
    if (shard === victim && attempt === 1 && pid !== undefined) {
      const waitForShard = setInterval(() => {
        if (!existsSync(marker)) return;
        clearInterval(waitForShard);
        process.kill(pid, 'SIGKILL');
        killed = pid;
      }, 10);
    }
  });
  const done = new Map<string, unknown>();
  const report = await c.run(shards, (shard, result) => {
    assert.ok(!done.has(shard.id), `${shard.id} done twice`);
    done.set(shard.id, result);
  });
  assert.ok(killed > 0);
  assert.equal(report.complete, true);
  assert.equal(done.size, shards.length);
  assert.deepEqual(done.get(victim), expectedWork(shards[5].payload as WorkPayload, init));
  assert.equal(report.devices.reduce((a, d) => a + d.restarts, 0), 1);
  assert.equal(report.devices.reduce((a, d) => a + d.failures, 0), 1, 'the kill should land while the shard is in flight');
  assert.equal(pidAlive(killed), false);
});

test('a poison shard that kills every worker it touches is reported and the run goes on', async () => {
  const shards = makeShards(10, 5, (i) => (i === 2 ? { crash: true } : {}));
  const logs: string[] = [];
  const c = coordinator('cpu:2', { maxAttempts: 3 }, logs);
  const done = new Set<string>();
  const report = await c.run(shards, (shard) => void done.add(shard.id));
  assert.equal(report.complete, false);
  assert.deepEqual(
    report.failed.map((f) => f.id),
    [shards[2].id],
  );
  assert.equal(report.failed[0].attempts, 3);
  assert.deepEqual(report.failed[0].devices.sort(), ['cpu:0', 'cpu:1']);
  assert.equal(done.size, shards.length - 1);
  assert.equal(report.shards_done, shards.length - 1);
  assert.ok(logs.some((l) => l.includes(`shard ${shards[2].id} NOT processed`)));
});

test('a handler error is retried on another device, then reported', async () => {
  const shards = makeShards(6, 6, (i) => (i === 0 ? { throws: true } : {}));
  const c = coordinator('cpu:2', { maxAttempts: 2 });
  const report = await c.run(shards, () => undefined);
  assert.equal(report.complete, false);
  assert.equal(report.failed.length, 1);
  assert.match(report.failed[0].errors.join('\n'), /shard-0 is malformed/);
  assert.equal(report.devices.reduce((a, d) => a + d.restarts, 0), 0, 'an ordinary error must not kill the worker');
});

test('results are byte-identical for every flag combination and device count', async () => {
  const shards = makeShards(14, 9);
  let reference: Map<string, Buffer> | null = null;
  const combos: Array<[string, Partial<CoordinatorOptions>, string?]> = [
    ['cpu', {}],
    ['cpu:3', {}],
    ['cpu:3', { gpuWeighted: true }],
    ['cpu:3', { workStealing: true }, '2=3'],
    ['cpu:2', { workStealing: true, gpuWeighted: true }, '0=2'],
    ['cpu:2', { weights: [1, 3] }],
  ];
  for (const [devices, flags, slowdown] of combos) {
    const out = tempDir('virnucpro-sched-');
    const c = coordinator(devices, { ...flags, env: slowdown ? { VIRNUCPRO_DEVICE_SLOWDOWN: slowdown } : {} });
    const report = await c.run(shards, async (shard, result) => {
      const r = result as WorkResult;
      await writeFileAtomic(join(out, `${shard.id}.bin`), Buffer.concat([Buffer.from(`${r.digest} ${r.rounds}\n`), Buffer.from(r.bytes)]));
    });
    assert.equal(report.complete, true);
    const files = new Map(readdirSync(out).map((f) => [f, readFileSync(join(out, f))]));
    if (!reference) reference = files;
    else assert.deepEqual(files, reference, `${devices} ${JSON.stringify(flags)} differs`);
  }
});

test('an error thrown by onResult ends the run and stops every worker', async () => {
  const c = coordinator('cpu:2');
  const pids = new Set<number>();
  c.on('dispatch', (e) => e.pid !== undefined && pids.add(e.pid));
  await assert.rejects(
    c.run(makeShards(8, 10), (shard) => {
      if (shard.id === 'shard-003') throw new Error('disk full');
    }),
    /disk full/,
  );
  assert.ok(pids.size > 0);
  for (const pid of pids) assert.equal(pidAlive(pid), false, `worker ${pid} still running`);
});

test('a worker that cannot load its handler is reported; with no device left the run fails', async () => {
  const c = new Coordinator({
    devices: resolveDevices({ devices: 'cpu' }, []),
    handler: { module: join(tempDir(), 'missing-handler.js'), init: {} },
    log: () => undefined,
  });
  await assert.rejects(c.run(makeShards(2), () => undefined), /no worker started.*cpu:0/);
});

test('a calibrate() that throws costs the measured weights, not the device, and the log says why', async () => {
  const logs: string[] = [];
  const c = new Coordinator({
    devices: resolveDevices({ devices: 'cpu:2' }, []),
    handler: { module: handlerModule, init: { ...init, calibrationFails: true } },
    gpuWeighted: true,
    log: (line) => logs.push(line),
  });
  const report = await c.run(makeShards(4, 11), () => undefined);
  assert.equal(report.complete, true);
  assert.equal(report.options.weight_source, 'built-in table (cpu:0: calibration failed (Error: calibration probe ran out of memory); cpu:1: calibration failed (Error: calibration probe ran out of memory))');
  assert.ok(logs.some((l) => l.includes(`weights: ${report.options.weight_source}`)), logs.join('\n'));
});
