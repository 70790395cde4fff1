/**
 * Queue mode with real parts: redis-server, `virnucpro worker` processes standing
 * for hosts, `virnucpro predict --queue` as the coordinator, the fixture models.
 * Every run's outputs must equal a local run's with the same plan, byte for byte.
 */
import { test } from 'node:test';
import { get } from 'node:http';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { jobIdFor, PREFIX, queueNameFor } from '../../src/cluster/queue-names.js';
import { fixture, fixtureModelFlags, tempDir } from '../helpers.js';
import { CliProcess, RedisServer, redisContents, redisMissing, runIdFromLog, startWorker, stopWorker } from './harness.js';

const skip = redisMissing() ?? false;
const cache = tempDir('virnucpro-cluster-cache-');
const MODELS = fixtureModelFlags(cache);
const INPUT = fixture('e2e/input.fa');
/** Small shards: the e2e input makes 9 units. */
const PLAN = ['-e', '500', '--shard-tokens', '300'];
const UNITS = 9;
const RESULT_FILES = ['prediction_results.txt', 'prediction_results_highestscore.csv', 'summary.tsv'];
/**
 * What a finished run leaves of a queue in Redis: BullMQ's own keys for the queue (settings, job counter, event
 * stream, its stalled-jobs check, the marker that wakes its workers), never a job or an event of the run
 * (cluster/queue-run.ts).
 */
const QUEUE_OWN_KEYS = new Set(['meta', 'id', 'events', 'stalled-check', 'marker']);

async function assertNothingOfRunLeft(url: string, runId: string): Promise<void> {
  const { ofRun, queueKeys } = await redisContents(url, runId);
  assert.deepEqual(ofRun, [], 'no job, event or registration of the run is left in Redis');
  assert.ok(queueKeys.every((k) => QUEUE_OWN_KEYS.has(k)), `only the queue's own keys remain: ${queueKeys.join(', ')}`);
}

/** gpu_metrics.log as rows keyed by its header. */
function metricsRows(dir: string): Array<Record<string, string>> {
  const [header, ...lines] = readFileSync(join(dir, 'gpu_metrics.log'), 'utf8').trim().split('\n');
  const names = header.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [names[i], v])));
}

function readResults(dir: string): Record<string, string> {
  return Object.fromEntries(RESULT_FILES.map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

let reference: Record<string, string> | null = null;
async function referenceResults(): Promise<Record<string, string>> {
  if (reference) return reference;
  const out = join(tempDir(), 'local');
  const r = await new CliProcess(['predict', INPUT, ...PLAN, ...MODELS, '-o', out, '-q']).exited;
  assert.equal(r.code, 0, r.stderr);
  reference = readResults(out);
  return reference;
}

function predict(url: string, out: string, extra: string[] = [], env: Record<string, string> = {}): CliProcess {
  const dashboard = extra.includes('--show-gpu-dashboard') ? [] : ['--no-gpu-dashboard'];
  return new CliProcess(['predict', INPUT, ...PLAN, ...MODELS, '-o', out, '--queue', url, ...dashboard, ...extra], env);
}

test('two workers with AUTH: outputs byte-identical to a local run; dashboard, gpu_metrics.log, units.jsonl and report per host:device; nothing left in Redis; the password nowhere', { skip }, async () => {
  const secret = 'pw-s3cr3t-x';
  const redis = await RedisServer.start({ password: secret });
  const want = await referenceResults();
  const a = await startWorker(redis.url(), 'hostA', MODELS);
  const b = await startWorker(redis.url(), 'hostB', MODELS);
  try {
    const out = join(tempDir(), 'q');
    // The dashboard on (not a terminal here: one summary line per refresh, on stdout), and the live web dashboard,
    // whose event stream is read from its start to the end of the run.
    const coordinator = predict(redis.url(), out, ['--show-gpu-dashboard', '--dashboard-port', '0']);
    await coordinator.waitFor(/live dashboard: http:\/\/\S+/);
    const liveEvents = readEventStream(`${/live dashboard: (http:\/\/\S+)/.exec(coordinator.stderr)![1]}events`);
    const r = await coordinator.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readResults(out), want);
    const runJson = readFileSync(join(out, 'run.json'), 'utf8');
    const run = JSON.parse(runJson);
    assert.equal(run.parameters.queue.url, `redis://:***@127.0.0.1:${redis.port}/0`);
    const devices = run.devices as Array<{ host: string; device: string; shards: number }>;
    assert.deepEqual(devices.map((d) => `${d.host}:${d.device}`).sort(), ['hostA:cpu:0', 'hostB:cpu:0'], runJson);
    assert.equal(devices.reduce((n, d) => n + d.shards, 0), UNITS);
    assert.ok(!runJson.includes(secret) && !r.stderr.includes(secret), 'the password is never written or printed');

    // The workers' figures, measured on their hosts as a local CPU run measures its devices (the device worker's
    // CPU % and memory; no temperature or power for a CPU), in gpu_metrics.log under host:device...
    const rows = metricsRows(out);
    for (const name of ['hostA:cpu:0', 'hostB:cpu:0']) {
      const mine = rows.filter((row) => row.device === name);
      assert.ok(mine.length > 0, `gpu_metrics.log has rows for ${name}`);
      const last = mine.at(-1)!;
      for (const field of ['sequences_per_s', 'tokens_per_s', 'utilization_pct', 'memory_pct', 'memory_used_mib']) {
        assert.match(last[field], /^\d+(\.\d+)?$/, `${name}: ${field} filled in ${JSON.stringify(last)}`);
      }
      assert.ok(Number(last.memory_used_mib) > 10, `${name}: the device worker's memory (${last.memory_used_mib} MiB)`);
      assert.equal(last.temperature_c, '');
      assert.equal(last.power_w, '');
    }
    // ...and in the dashboard.
    assert.match(coordinator.stdout, /hostA:cpu:0 \w+ q=\d+ done=\d+ [\d.k]+ seq\/s util=\d+%/, coordinator.stdout);
    assert.match(coordinator.stdout, /hostB:cpu:0 \w+ q=\d+ done=\d+ [\d.k]+ seq\/s util=\d+%/, coordinator.stdout);

    // ...and on the live web dashboard: every unit and the metrics, under host:device.
    const live = await liveEvents;
    const liveUnits = [...(live.find((e) => e.event === 'state')?.data.units ?? []), ...live.filter((e) => e.event === 'unit').map((e) => e.data)];
    assert.deepEqual([...new Set(liveUnits.map((u: { unit: string }) => u.unit))].sort(), Array.from({ length: UNITS }, (_, i) => `shard-${i + 1}`).sort());
    assert.ok(liveUnits.every((u: { device: string }) => ['hostA:cpu:0', 'hostB:cpu:0'].includes(u.device)), JSON.stringify(liveUnits));
    const liveRows = live.filter((e) => e.event === 'metrics').flatMap((e) => e.data.rows as Array<{ device: string }>);
    assert.deepEqual([...new Set(liveRows.map((row) => row.device))].sort(), ['hostA:cpu:0', 'hostB:cpu:0']);
    assert.equal(live.at(-1)?.event, 'finished');

    // The unit log: one unit per shard, named host:device; the report's timeline draws them.
    const units = readFileSync(join(out, 'work', 'units.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(units.map((u) => u.unit).sort(), Array.from({ length: UNITS }, (_, i) => `shard-${i + 1}`).sort());
    for (const u of units) {
      assert.ok(['hostA:cpu:0', 'hostB:cpu:0'].includes(u.device) && u.start <= u.end, JSON.stringify(u));
    }
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    const data = JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]);
    assert.deepEqual(data.timeline.devices, ['hostA:cpu:0', 'hostB:cpu:0']);
    assert.equal(data.timeline.units.length, UNITS);

    // Redis keeps nothing of the finished run.
    await assertNothingOfRunLeft(redis.url(), runIdFromLog(a.stderr.includes(' started') ? a : b));
  } finally {
    await Promise.all([stopWorker(a), stopWorker(b)]);
  }
  assert.ok(!a.stderr.includes(secret) && !b.stderr.includes(secret));

  // A wrong password and none at all: exit code 2, said clearly, the password not repeated.
  const wrong = await predict(redis.url('wrong-pw-zz'), join(tempDir(), 'w')).exited;
  assert.equal(wrong.code, 2, wrong.stderr);
  assert.match(wrong.stderr, /refused the connection: wrong user name or password/);
  assert.ok(!wrong.stderr.includes('wrong-pw-zz'), wrong.stderr);
  const none = await predict(redis.url(''), join(tempDir(), 'n')).exited;
  assert.equal(none.code, 2, none.stderr);
  assert.match(none.stderr, /requires a password/);
  const worker = await new CliProcess(['worker', '--queue', redis.url('wrong-pw-zz'), ...MODELS, '--devices', 'cpu']).exited;
  assert.equal(worker.code, 2, worker.stderr);
  assert.ok(!worker.stderr.includes('wrong-pw-zz'), worker.stderr);
  await redis.stop();
});

test('a worker killed -9 mid-unit: the unit is taken again after its lock expires and the run completes', { skip }, async () => {
  const redis = await RedisServer.start();
  const want = await referenceResults();
  // This worker takes a unit and holds it (its lock renewed) until killed.
  const doomed = await startWorker(redis.url(), 'doomed', MODELS, { env: { VIRNUCPRO_TEST_HOLD: 'unit' } });
  const out = join(tempDir(), 'q');
  const run = predict(redis.url(), out);
  await doomed.waitFor('VIRNUCPRO_TEST_HOLD unit');
  doomed.kill('SIGKILL');
  await doomed.exited;
  const rescuer = await startWorker(redis.url(), 'rescuer', MODELS);
  try {
    const r = await run.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readResults(out), want);
    assert.equal(rescuer.stderr.match(/ done in /g)?.length, UNITS, 'the rescuer computed every unit, the held one included');
  } finally {
    await stopWorker(rescuer);
    await redis.stop();
  }
});

test('the coordinator killed: --resume collects what the workers finished meanwhile and leaves nothing of the run in Redis', { skip }, async () => {
  const redis = await RedisServer.start();
  const want = await referenceResults();
  const w = await startWorker(redis.url(), 'hostA', MODELS);
  try {
    const out = join(tempDir(), 'q');
    // The coordinator stops after writing its first result; the worker goes on with the queued units.
    const first = predict(redis.url(), out, [], { VIRNUCPRO_TEST_HOLD: 'compute' });
    await first.waitFor('VIRNUCPRO_TEST_HOLD compute');
    first.kill('SIGKILL');
    await first.exited;
    await w.waitFor(/ done in /, UNITS);
    const r = await predict(redis.url(), out, ['--resume']).exited;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /1 shard\(s\) already done, 8 to compute/);
    assert.deepEqual(readResults(out), want);
    assert.equal(w.stderr.match(/ done in /g)?.length, UNITS, 'nothing computed twice: the resumed run collected the finished units');
    // The killed session had kept its first result but not yet removed its job: the resumed run removed it.
    const runId = runIdFromLog(w);
    await assertNothingOfRunLeft(redis.url(), runId);

    // A resumed run with nothing left to compute still removes what an interrupted session left (here a job of
    // shard 1 put back by hand, as a coordinator killed after its last result but before removing the job leaves it).
    await stopWorker(w);
    const queue = new Queue(queueNameFor(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).models.sha256), { connection: { port: redis.port }, prefix: PREFIX });
    await queue.add('unit', { left: 'behind' }, { jobId: jobIdFor(runId, 1) });
    await queue.close();
    assert.equal((await redisContents(redis.url(), runId)).ofRun.length > 0, true);
    const again = await predict(redis.url(), out, ['--resume']).exited;
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /9 shard\(s\) already done, 0 to compute/);
    await assertNothingOfRunLeft(redis.url(), runId);
  } finally {
    await stopWorker(w);
    await redis.stop();
  }
});

test('Redis restarted empty: the coordinator enqueues the lost units again and completes', { skip }, async () => {
  const redis = await RedisServer.start();
  const want = await referenceResults();
  const out = join(tempDir(), 'q');
  const run = predict(redis.url(), out);
  await run.waitFor('no worker connected');
  await redis.restartEmpty();
  await run.waitFor('missing from Redis');
  const w = await startWorker(redis.url(), 'hostA', MODELS);
  try {
    const r = await run.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readResults(out), want);
  } finally {
    await stopWorker(w);
    await redis.stop();
  }
});

test('a worker with other models takes none of the run, both sides say why; a unit failing every attempt exits 3', { skip }, async () => {
  const redis = await RedisServer.start();
  // fp16 graphs of the same files: other models, another fingerprint.
  const other = await startWorker(redis.url(), 'fp16host', [...MODELS, '--precision', 'fp16']);
  const out = join(tempDir(), 'q');
  const run = predict(redis.url(), out, ['--queue-attempts', '2']);
  try {
    await run.waitFor(/waiting: no worker has models \w+; worker\(s\) with other models: fp16host:cpu:0/);
    await other.waitFor(/waits for models \w+; this worker has other models/);
    const right = await startWorker(redis.url(), 'fp32host', MODELS, { env: { VIRNUCPRO_TEST_FAIL_SHARD: '2' } });
    try {
      const r = await run.exited;
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /1 shard\(s\) could not be processed: shard-2 \(Error: VIRNUCPRO_TEST_FAIL_SHARD: shard 2 fails on purpose\)/);
      const runJson = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
      assert.equal(runJson.failed_shards[0].id, 'shard-2');
      assert.equal(runJson.failed_shards[0].attempts, 2);
      // The failed job's reason is in run.json: Redis keeps nothing of the run, the failed job included.
      await assertNothingOfRunLeft(redis.url(), runIdFromLog(right));
    } finally {
      await stopWorker(right);
    }
    assert.doesNotMatch(other.stderr, / started/, 'the other models\' worker took no unit');
  } finally {
    await stopWorker(other);
    await redis.stop();
  }
});

test('queue mode refuses what it cannot do: --plan-only, --units, --save-embeddings, a unit above --queue-max-bytes, an unreachable Redis', { skip }, async () => {
  const redis = await RedisServer.start();
  // The workflow-engine flags: refused at once, saying what to do instead.
  const planOnly = await predict(redis.url(), join(tempDir(), 'p'), ['--plan-only']).exited;
  assert.equal(planOnly.code, 2, planOnly.stderr);
  assert.match(planOnly.stderr, /--plan-only cannot be combined with --queue/);
  assert.match(planOnly.stderr, /drop --plan-only/);
  const units = await predict(redis.url(), join(tempDir(), 'u'), ['--units', '1/2']).exited;
  assert.equal(units.code, 2, units.stderr);
  assert.match(units.stderr, /--units cannot be combined with --queue/);
  assert.match(units.stderr, /start `virnucpro worker --queue URL` on each host/);
  const emb = await predict(redis.url(), join(tempDir(), 'e'), ['--save-embeddings']).exited;
  assert.equal(emb.code, 2, emb.stderr);
  assert.match(emb.stderr, /--save-embeddings cannot be combined with --queue/);
  const big = await new CliProcess(['predict', INPUT, '-e', '500', ...MODELS, '-o', join(tempDir(), 'b'), '--queue', redis.url(), '--queue-max-bytes', '1K']).exited;
  assert.equal(big.code, 2, big.stderr);
  assert.match(big.stderr, /shard-1: its input \(.*\) is [\d.]+ KiB, above --queue-max-bytes \(1\.0 KiB\)/);
  await redis.stop();
  const away = await predict(redis.url(), join(tempDir(), 'a')).exited;
  assert.equal(away.code, 4, away.stderr);
  assert.match(away.stderr, /cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+\/0 \(.*ECONNREFUSED/);
});

/** Every server-sent event of a stream, from its first byte until the server closes it. */
function readEventStream(url: string): Promise<Array<{ event: string; data: any }>> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('close', () =>
        resolve(
          text
            .split('\n\n')
            .map((block) => ({ event: /^event: (.*)$/m.exec(block)?.[1], data: /^data: (.*)$/m.exec(block)?.[1] }))
            .filter((e): e is { event: string; data: string } => e.event !== undefined && e.data !== undefined)
            .map((e) => ({ event: e.event, data: JSON.parse(e.data) })),
        ),
      );
    }).on('error', reject);
  });
}
