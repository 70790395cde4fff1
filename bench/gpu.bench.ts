/**
 * `npm run bench -- gpu`: the GPU check's measurements (scripts/gpu-check.ts: WebGPU-vs-CPU numerics at
 * several lengths, ESM-2- and DNABERT-S-shaped throughput in fp32 and fp16, a large MatMul as the
 * ceiling) on whatever GPU provider starts here. On a machine without a GPU, WebGPU runs on lavapipe
 * (Mesa's CPU Vulkan driver): the run proves the path end to end, its speed means nothing.
 * BENCH_GPU_FULL=1 uses the real shapes (ESM-2 3B, all 36 layers) instead of the small stand-ins.
 * The H200 figures come from `scripts/gpu-check.sh` on the device machine (docs/gpu.md).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../scripts/gpu-check.ts', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'virnucpro-bench-gpu-'));
const size = process.env.BENCH_GPU_FULL === '1' ? [] : ['--small'];
try {
  for (const step of [
    ['plan', '--work', work, ...size],
    ['run', '--work', work, ...size, '--budget', process.env.BENCH_GPU_BUDGET_S ?? '120'],
    ['report', '--work', work, '--out', work],
  ]) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...step], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) throw new Error(`gpu-check ${step[0]} exited with ${r.status ?? r.signal}`);
  }
  process.stdout.write(readFileSync(join(work, 'figures.md'), 'utf8'));
} finally {
  rmSync(work, { recursive: true, force: true });
}
