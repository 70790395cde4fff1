/**
 * Scheduler benchmark, two tables: makespan against the ideal for heterogeneous
 * devices simulated with CPU workers and the VIRNUCPRO_DEVICE_SLOWDOWN knob.
 *
 *   npm run bench -- scheduler
 *   BENCH_SCHEDULER=real BENCH_SCHEDULER_READS=6000,100000,1000000 npm run bench -- scheduler
 *
 * 1. simulated: sleep-dominated work (a short SHA-256 chain plus a sleep per unit
 *    of cost) on 160 fixed shards, so four workers do not compete for this
 *    machine's two cores and the measured speeds are the simulated ones.
 * 2. real: the real `predict` (demo models, generated reads) at default settings,
 *    with and without --work-stealing; bench/lib/predict-balance.ts says how.
 *
 * BENCH_SCHEDULER=simulated|real runs one of the two (default both).
 */
import { Coordinator, type CoordinatorOptions } from '../src/scheduler/coordinator.js';
import { resolveDevices } from '../src/scheduler/devices.js';
import type { ShardDescriptor } from '../src/scheduler/types.js';
import type { WorkInit, WorkPayload } from '../test/scheduler/fixtures/work-handler.js';
import { predictBalanceTable } from './lib/predict-balance.js';

const handlerModule = new URL('../test/scheduler/fixtures/work-handler.ts', import.meta.url).pathname;
const MS_PER_COST = 5;
const init: WorkInit = { hashRoundsPerCost: 1, sleepMsPerCost: MS_PER_COST };
const SHARDS = 160;

/** Costs uniform in [5, 15) from a fixed seed: shards of about 25-75 ms on the fastest device. */
function shards(): ShardDescriptor[] {
  let a = 12345;
  const next = (): number => {
    a = (a * 1103515245 + 12345) % 2 ** 31;
    return a / 2 ** 31;
  };
  return Array.from({ length: SHARDS }, (_, i) => {
    const cost = 5 + Math.floor(next() * 10);
    const payload: WorkPayload = { seed: `bench-${i}`, cost };
    return { id: `shard-${i}`, cost, payload };
  });
}

const speedSets: Array<{ label: string; speeds: number[] }> = [
  { label: '1:1:1:0.25', speeds: [1, 1, 1, 0.25] },
  { label: '1:2:4', speeds: [1, 2, 4] },
];

const modes: Array<{ label: string; flags: Partial<CoordinatorOptions> }> = [
  { label: 'static', flags: {} },
  { label: 'weighted', flags: { gpuWeighted: true } },
  { label: 'stealing', flags: { workStealing: true } },
  { label: 'weighted + stealing', flags: { gpuWeighted: true, workStealing: true } },
];

async function simulatedTable(): Promise<void> {
  const work = shards();
  const totalCost = work.reduce((a, s) => a + s.cost, 0);
  console.log(`${SHARDS} shards, total cost ${totalCost}, ${MS_PER_COST} ms per unit of cost on the fastest device; steal interval 3 s (default)\n`);
  console.log('| speeds | mode | makespan (s) | ideal (s) | makespan / ideal | steals | shards per device |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | --- |');
  for (const { label, speeds } of speedSets) {
    const fastest = Math.max(...speeds);
    const slowdown = speeds.map((s, i) => `${i}=${fastest / s}`).join(',');
    const ideal = (totalCost * MS_PER_COST) / 1000 / speeds.reduce((a, s) => a + s / fastest, 0);
    for (const mode of modes) {
      const c = new Coordinator({
        devices: resolveDevices({ devices: `cpu:${speeds.length}` }, []),
        handler: { module: handlerModule, init },
        env: { VIRNUCPRO_DEVICE_SLOWDOWN: slowdown },
        log: () => undefined,
        ...mode.flags,
      });
      const report = await c.run(work, () => undefined);
      if (!report.complete) throw new Error(`${label} ${mode.label}: run incomplete`);
      const perDevice = report.devices.map((d) => d.shards).join('/');
      console.log(
        `| ${label} | ${mode.label} | ${report.makespan_s.toFixed(2)} | ${ideal.toFixed(2)} | ${(report.makespan_s / ideal).toFixed(3)} | ${report.steals.length} | ${perDevice} |`,
      );
    }
  }
}

const parts = (process.env.BENCH_SCHEDULER ?? 'simulated,real').split(',');
if (parts.includes('simulated')) {
  console.log('### simulated work\n');
  await simulatedTable();
}
if (parts.includes('real')) {
  console.log('\n### the real predict\n');
  await predictBalanceTable();
}
