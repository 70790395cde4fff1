/**
 * Queue mode with real parts: redis-server, `virnucpro worker` processes standing
 * for hosts, `virnucpro predict --queue` as the coordinator, the fixture models.
 * Every run's outputs must equal a local run's with the same plan, byte for byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, fixtureModelFlags, tempDir } from '../helpers.js';
import { CliProcess, RedisServer, redisMissing, startWorker, stopWorker } from './harness.js';

const skip = redisMissing() ?? false;
const cache = tempDir('virnucpro-cluster-cache-');
const MODELS = fixtureModelFlags(cache);
const INPUT = fixture('e2e/input.fa');
/** Small shards: the e2e input makes 9 units. */
const PLAN = ['-e', '500', '--shard-tokens', '300'];
const UNITS = 9;
const RESULT_FILES = ['prediction_results.txt', 'prediction_results_highestscore.csv', 'summary.tsv'];

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
  return new CliProcess(['predict', INPUT, ...PLAN, ...MODELS, '-o', out, '--queue', url, '--no-gpu-dashboard', ...extra], env);
}

test('two workers with AUTH: outputs byte-identical to a local run, hosts in run.json, the password nowhere', { skip }, async () => {
  const secret = 'pw-s3cr3t-x';
  const redis = await RedisServer.start({ password: secret });
  const want = await referenceResults();
  const a = await startWorker(redis.url(), 'hostA', MODELS);
  const b = await startWorker(redis.url(), 'hostB', MODELS);
  try {
    const out = join(tempDir(), 'q');
    const r = await predict(redis.url(), out).exited;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readResults(out), want);
    const runJson = readFileSync(join(out, 'run.json'), 'utf8');
    const run = JSON.parse(runJson);
    assert.equal(run.parameters.queue.url, `redis://:***@127.0.0.1:${redis.port}/0`);
    const devices = run.devices as Array<{ host: string; device: string; shards: number }>;
    assert.ok(devices.every((d) => ['hostA', 'hostB'].includes(d.host) && d.device === 'cpu:0'), runJson);
    assert.equal(devices.reduce((n, d) => n + d.shards, 0), UNITS);
    assert.ok(!runJson.includes(secret) && !r.stderr.includes(secret), 'the password is never written or printed');
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

test('the coordinator killed: --resume collects what the workers finished meanwhile', { skip }, async () => {
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
    } finally {
      await stopWorker(right);
    }
    assert.doesNotMatch(other.stderr, / started/, 'the other models\' worker took no unit');
  } finally {
    await stopWorker(other);
    await redis.stop();
  }
});

test('queue mode refuses what it cannot do: --save-embeddings, a unit above --queue-max-bytes, an unreachable Redis', { skip }, async () => {
  const redis = await RedisServer.start();
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
