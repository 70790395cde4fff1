/**
 * End-to-end `predict` with the demo models on generated reads: reads/s at 10k
 * and 100k reads, and peak RSS (parent and worker) at 100k and 1M reads, to
 * show that memory does not grow with the input.
 *
 *   npm run bench -- predict            (10k, 100k, 1M reads; about 4 minutes on 2 cores)
 *   BENCH_PREDICT_SIZES=10000 npm run bench -- predict
 *
 * Reads: bench/lib/generated-reads.ts (150-300 bp, half coding, seeded).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeReads } from './lib/generated-reads.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const sizes = (process.env.BENCH_PREDICT_SIZES ?? '10000,100000,1000000').split(',').map(Number);


/** Peak resident memory (VmHWM) of a process and its descendants, polled from /proc. */
function watchPeaks(rootPid: number): { stop(): Map<number, number> } {
  const peaks = new Map<number, number>();
  const children = (pid: number): number[] => {
    try {
      return readdirSync(`/proc/${pid}/task`).flatMap((t) =>
        readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
      );
    } catch {
      return [];
    }
  };
  const poll = (): void => {
    const stack = [rootPid];
    while (stack.length) {
      const pid = stack.pop()!;
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
        if (m) peaks.set(pid, Math.max(peaks.get(pid) ?? 0, Number(m[1]) * 1024));
      } catch {
        // exited
      }
      stack.push(...children(pid));
    }
  };
  const timer = setInterval(poll, 100);
  return {
    stop() {
      clearInterval(timer);
      return peaks;
    },
  };
}

const dir = mkdtempSync(join(tmpdir(), 'virnucpro-bench-predict-'));
const cache = join(dir, 'cache');
console.log('| reads | input | frames | wall s | reads/s | frames/s | parent peak RSS | worker peak RSS |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
try {
  for (const n of sizes) {
    const input = join(dir, `reads_${n}.fa`);
    const bytes = await writeReads(input, n);
    const out = join(dir, `out_${n}`);
    const t0 = performance.now();
    const child = spawn(process.execPath, [join(repo, 'dist/cli/main.js'), 'predict', input, '-e', '300', '--demo', '-o', out, '-q', '--cache-dir', cache], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const watch = watchPeaks(child.pid!);
    const code = await new Promise<number | null>((r) => child.on('close', r));
    const peaks = watch.stop();
    const wall = (performance.now() - t0) / 1000;
    if (code !== 0) throw new Error(`predict exited with ${code}`);
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    const parent = peaks.get(child.pid!) ?? 0;
    const worker = Math.max(0, ...[...peaks.entries()].filter(([pid]) => pid !== child.pid).map(([, v]) => v));
    const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
    console.log(
      `| ${n} | ${(bytes / 1e6).toFixed(1)} MB | ${run.counts.frames} | ${wall.toFixed(1)} | ${(n / wall).toFixed(0)} | ${(run.counts.frames / wall).toFixed(0)} | ${mb(parent)} | ${mb(worker)} |`,
    );
    rmSync(out, { recursive: true, force: true });
    rmSync(input, { force: true });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
