/**
 * The real-pipeline half of `npm run bench -- scheduler`: the real `predict`
 * (demo models, generated reads, bench/lib/generated-reads.ts) at default
 * settings, with and without --work-stealing, on CPU workers made into devices
 * of different speeds with VIRNUCPRO_DEVICE_SLOWDOWN.
 *
 * - Speed sets 1:0.25 (2 devices) and 1:1:1:0.25 (4 devices). predict is called
 *   as a library, with scheduler settings whose CPU-worker cap is the device
 *   count, so four CPU workers run on this 2-core machine (the CLI would refuse
 *   them).
 * - So that the workers do not compete for the cores, each has one ONNX Runtime
 *   thread and every device is slowed: device i gets slowdown scale / speed_i with
 *   scale = ceil(sum of the speeds), so all workers together need at most one
 *   core's worth of compute (the rest of each shard's time is the knob's sleep).
 * - Ideal = total tokens / sum over devices of (tokens / busy seconds), all from
 *   run.json: the makespan a perfect split would reach at the speeds each device
 *   really showed in this run. A device's busy seconds here leave out unused_s
 *   (backup copies another device finished first), so that wasted work counts
 *   against the makespan, not as a slower device. makespan is run.json's
 *   makespan_s (first dispatch to last result; planning, model loading and
 *   outputs excluded).
 * - Every row of one input must give the same prediction_results.txt (sha256
 *   compared; the first row of each input is the reference).
 *
 *   BENCH_SCHEDULER_READS=6000,100000,1000000   input sizes (default 6000,100000)
 *   BENCH_SCHEDULER_SETS=2,4                    device counts (default both)
 *   BENCH_SCHEDULER_MODES=default,stealing      modes (default both; the 1M row takes long without stealing)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPredict } from '../../src/pipeline/predict.js';
import { schedulerSettingsFrom } from '../../src/scheduler/settings.js';
import { SLOWDOWN_ENV } from '../../src/scheduler/slowdown.js';
import { sha256File } from '../../src/util/hash.js';
import { writeReads } from './generated-reads.js';

const SPEED_SETS: Array<{ devices: number; speeds: number[] }> = [
  { devices: 2, speeds: [1, 0.25] },
  { devices: 4, speeds: [1, 1, 1, 0.25] },
];
const MODES: Array<{ key: string; label: string; workStealing: boolean }> = [
  { key: 'default', label: 'default', workStealing: false },
  { key: 'stealing', label: '--work-stealing', workStealing: true },
];

interface RunJson {
  makespan_s: number;
  parameters: { shard_tokens: unknown };
  counts: { frames: number; shards: number };
  devices: Array<{ device: string; shards: number; tokens: number; busy_s: number; unused_s?: number }>;
  steals: unknown[];
  backups?: unknown[];
}

/** total tokens / sum of each device's tokens per delivering second; null when a device delivered nothing (its speed is unknown). */
function idealSeconds(run: RunJson): number | null {
  const seconds = (d: RunJson['devices'][number]) => d.busy_s - (d.unused_s ?? 0);
  if (run.devices.some((d) => seconds(d) <= 0 || d.tokens <= 0)) return null;
  const tokens = run.devices.reduce((a, d) => a + d.tokens, 0);
  return tokens / run.devices.reduce((a, d) => a + d.tokens / seconds(d), 0);
}

function listFromEnv(name: string, fallback: string): string[] {
  return (process.env[name] ?? fallback).split(',').map((x) => x.trim());
}

export async function predictBalanceTable(): Promise<void> {
  const sizes = listFromEnv('BENCH_SCHEDULER_READS', '6000,100000').map(Number);
  const sets = SPEED_SETS.filter((s) => listFromEnv('BENCH_SCHEDULER_SETS', '2,4').includes(String(s.devices)));
  const modes = MODES.filter((m) => listFromEnv('BENCH_SCHEDULER_MODES', 'default,stealing').includes(m.key));
  const dir = mkdtempSync(join(tmpdir(), 'virnucpro-bench-balance-'));
  const cacheDir = join(dir, 'cache');
  const previousSlowdown = process.env[SLOWDOWN_ENV];
  const identical: string[] = [];
  console.log('Demo models, -e 300, 1 ONNX Runtime thread per worker; load = 1-minute load average before / after the row.\n');
  console.log('| reads | frames | speeds | slowdowns | mode | shards | makespan (s) | ideal (s) | makespan / ideal | steals | backups | shards per device | wall (s) | load |');
  console.log('| ---: | ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |');
  try {
    for (const reads of sizes) {
      const input = join(dir, `reads_${reads}.fa`);
      await writeReads(input, reads);
      let reference: string | undefined;
      for (const { devices, speeds } of sets) {
        const scale = Math.ceil(speeds.reduce((a, s) => a + s, 0));
        const slowdown = speeds.map((s, i) => `${i}=${scale / s}`).join(',');
        for (const mode of modes) {
          const outDir = join(dir, `out_${reads}_${devices}_${mode.workStealing ? 'steal' : 'static'}`);
          const scheduler = await schedulerSettingsFrom({ devices: `cpu:${devices}`, workStealing: mode.workStealing, dashboard: false }, { detect: async () => [], cores: devices });
          process.env[SLOWDOWN_ENV] = slowdown;
          const loadBefore = loadavg()[0];
          const t0 = performance.now();
          await runPredict({
            input,
            expectedLength: 300,
            outDir,
            models: { demo: true, precision: 'fp32', cacheDir },
            threads: 1,
            scheduler,
            quiet: true,
            log: () => undefined,
          });
          const wall = (performance.now() - t0) / 1000;
          const run = JSON.parse(readFileSync(join(outDir, 'run.json'), 'utf8')) as RunJson;
          const ideal = idealSeconds(run);
          const predictions = await sha256File(join(outDir, 'prediction_results.txt'));
          reference ??= predictions;
          if (predictions !== reference) throw new Error(`${reads} reads, ${devices} devices, ${mode.label}: prediction_results.txt differs from the first row of this input`);
          console.log(
            `| ${reads} | ${run.counts.frames} | ${speeds.join(':')} | ${slowdown} | ${mode.label} | ${run.counts.shards} | ${run.makespan_s.toFixed(2)} | ` +
              `${ideal === null ? 'n/a' : ideal.toFixed(2)} | ${ideal === null ? 'n/a (a device did no work)' : (run.makespan_s / ideal).toFixed(3)} | ${run.steals.length} | ${run.backups?.length ?? 0} | ` +
              `${run.devices.map((d) => d.shards).join('/')} | ${wall.toFixed(1)} | ${loadBefore.toFixed(1)} / ${loadavg()[0].toFixed(1)} |`,
          );
          rmSync(outDir, { recursive: true, force: true });
        }
      }
      identical.push(`${reads} reads: ${reference?.slice(0, 12)}`);
      rmSync(input, { force: true });
    }
    console.log(`\nprediction_results.txt identical across the rows of each input (sha256 prefix): ${identical.join('; ')}`);
  } finally {
    if (previousSlowdown === undefined) delete process.env[SLOWDOWN_ENV];
    else process.env[SLOWDOWN_ENV] = previousSlowdown;
    rmSync(dir, { recursive: true, force: true });
  }
}
