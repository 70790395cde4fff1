/**
 * Queue-mode benchmark (`npm run bench -- cluster`): a redis-server on a free
 * loopback port, three queue workers (cluster/queue-worker.ts, one device each,
 * their compute in device worker processes as in `virnucpro worker`) at speeds
 * 1:1:0.25 (VIRNUCPRO_DEVICE_SLOWDOWN), and a queue coordinator
 * (cluster/queue-run.ts) with the scheduler benchmark's 160 sleep-dominated
 * shards (test/scheduler/fixtures/work-handler.ts), so three workers do not
 * compete for this machine's two cores and the speeds are the simulated ones.
 *
 * Rows: the shards at realistic durations (0.5-1.4 s on the fastest device, 2-5.6 s on the slow one;
 * real `predict` shards last seconds), and the same shards 20 times shorter (25-75 ms), where the
 * queue's per-unit overhead shows. Figures:
 *   makespan / ideal   ideal = total device time / summed speeds (no overhead, perfect balance)
 *   overhead per unit  one worker, 200 units of zero cost: wall time / units, i.e. a job's whole
 *                      round trip (fetch, lock, IPC to the device worker and back, completion,
 *                      the coordinator's collection) when nothing is computed
 * BENCH_CLUSTER_ROWS=tiny runs only the short row (a quick check).
 */
import { loadavg } from 'node:os';
import { QueueRun, type QueueUnit } from '../src/cluster/queue-run.js';
import { QueueWorker, type QueueWorkHandler } from '../src/cluster/queue-worker.js';
import { parseQueueUrl } from '../src/cluster/redis-connection.js';
import { resolveDevices } from '../src/scheduler/devices.js';
import type { WorkInit, WorkPayload } from '../test/scheduler/fixtures/work-handler.js';
import { RedisServer } from '../test/cluster/harness.js';

const handlerModule = new URL('../test/scheduler/fixtures/work-handler.ts', import.meta.url).pathname;
/** Milliseconds per unit of cost on the fastest device, per row: shards of cost 5-14 last 25-75 ms, or 0.5-1.4 s. */
const ROWS = [
  { label: '25-75 ms (tiny)', msPerCost: 5 },
  { label: '0.5-1.4 s (realistic)', msPerCost: 100 },
].filter((r) => process.env.BENCH_CLUSTER_ROWS !== 'tiny' || r.msPerCost === 5);
const SHARDS = 160;
const MODELS = 'b'.repeat(64);

function costs(n: number): number[] {
  let a = 12345;
  return Array.from({ length: n }, () => {
    a = (a * 1103515245 + 12345) % 2 ** 31;
    return 5 + Math.floor((a / 2 ** 31) * 10);
  });
}

function handler(init: WorkInit): QueueWorkHandler {
  return {
    module: handlerModule,
    initFor: () => init,
    shardFor: async (job) => ({ shard: { id: `u${job.unit}`, cost: 0, payload: job.work }, cleanup: async () => undefined }),
    encode: (result) => Buffer.from(JSON.stringify(result)).toString('base64'),
  };
}

function startWorkers(url: string, speeds: number[], init: WorkInit): QueueWorker[] {
  const fastest = Math.max(...speeds);
  return speeds.map((s, i) => {
    const [device] = resolveDevices({ devices: 'cpu' }, []);
    return new QueueWorker({
      url: parseQueueUrl(url),
      name: `host${i}`,
      devices: [{ ...device, index: 0 }],
      models: MODELS,
      handler: handler(init),
      lockMs: 30_000,
      slowdownFor: () => fastest / s,
      log: () => undefined,
    });
  });
}

async function runThrough(url: string, runId: string, unitCosts: number[]): Promise<{ makespanS: number; perDevice: string }> {
  const units: QueueUnit[] = unitCosts.map((cost, i) => ({ index: i + 1, id: `u${i + 1}`, cost, tokens: 0, sequences: 0 }));
  const run = new QueueRun({
    url: parseQueueUrl(url),
    models: MODELS,
    runId,
    attempts: 1,
    maxBytes: 1 << 20,
    log: () => undefined,
    workOf: async (u): Promise<WorkPayload> => ({ seed: `bench-${u.index}`, cost: u.cost }),
  });
  run.on('log', () => undefined);
  const report = await run.run(units, async () => undefined);
  if (!report.complete) throw new Error('bench run incomplete');
  return { makespanS: report.makespan_s, perDevice: report.devices.map((d) => `${d.host}:${d.shards}`).join(' ') };
}

const redis = await RedisServer.start();
try {
  const url = redis.url();
  const speeds = [1, 1, 0.25];
  const work = costs(SHARDS);
  const total = work.reduce((a, c) => a + c, 0);
  const speedSum = speeds.reduce((a, s) => a + s / Math.max(...speeds), 0);
  // One unit of cost is 1 ms of sleep on the fastest device; a row's shards are that many times longer.
  const workers = startWorkers(url, speeds, { hashRoundsPerCost: 1, sleepMsPerCost: 1 });
  await Promise.all(workers.map((w) => w.start()));
  // Warm-up: every worker starts its device worker process (as a long-running `virnucpro worker` has).
  await runThrough(url, 'bench-warmup', Array(30).fill(10));
  const rows: string[] = [];
  for (const row of ROWS) {
    const ideal = (total * row.msPerCost) / 1000 / speedSum;
    const r = await runThrough(url, `bench-balance-${row.msPerCost}`, work.map((c) => c * row.msPerCost));
    rows.push(`| 1:1:0.25 | ${row.label} | ${r.makespanS.toFixed(2)} | ${ideal.toFixed(2)} | ${(r.makespanS / ideal).toFixed(3)} | ${r.perDevice} |`);
  }
  // Overhead: the fastest worker alone, units of zero cost.
  await Promise.all(workers.slice(1).map((w) => w.close()));
  const EMPTY = 200;
  const empty = await runThrough(url, 'bench-overhead', Array(EMPTY).fill(0));
  await workers[0].close();
  console.log(`${SHARDS} shards of cost 5-14 (total ${total}); 3 workers through Redis ${redis.port}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
  console.log('| speeds | shard (fastest device) | makespan (s) | ideal (s) | makespan / ideal | shards per worker |');
  console.log('| --- | --- | ---: | ---: | ---: | --- |');
  for (const line of rows) console.log(line);
  console.log(`\nqueue overhead per unit (1 worker, ${EMPTY} units of zero cost): ${((empty.makespanS * 1000) / EMPTY).toFixed(2)} ms`);
} finally {
  await redis.stop();
}
process.exit(0);
