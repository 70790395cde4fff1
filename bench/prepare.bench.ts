/**
 * `npm run bench -- prepare`: `virnucpro models prepare` on a generated
 * checkpoint with the shapes and size of ESM-2 3B (`esm2_t36_3B_UR50D.pt`:
 * 36 layers, 2560 wide, fp32, about 11 GB), with and without --fp16.
 * Shows that conversion streams: peak RSS and V8 heap stay far below the
 * checkpoint's size.
 *
 * The checkpoint is written by our own torch writer from lazy tensors whose
 * bytes are a deterministic pattern made on demand, so the generator holds one
 * tensor at a time. Each `models prepare` runs in a fresh process (as a user
 * runs it) that samples its own memory every 50 ms and reports peaks.
 *
 * BENCH_ESM_LAYERS=N shrinks the checkpoint (default 36); BENCH_DIR picks the
 * disk (default the OS temp dir; needs about 2.5x the checkpoint size free);
 * BENCH_KEEP=1 keeps the files. Everything generated is deleted otherwise.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeTorchStateDict } from '../src/formats/pytorch/writer.js';
import { esm2FairEsmState } from './lib/generated-esm2.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const self = fileURLToPath(import.meta.url);

interface ChildReport {
  code: number;
  ms: number;
  /** Peak resident set (VmHWM) of the process. */
  maxRssKiB: number;
  /** Peak V8 heap used, and peak memory of ArrayBuffers (Buffers, typed arrays) outside the heap. */
  maxHeapBytes: number;
  maxArrayBuffersBytes: number;
}

if (process.argv[2] === '--child') {
  const { main } = await import('../src/cli/program.js');
  let maxHeapBytes = 0;
  let maxArrayBuffersBytes = 0;
  const sample = () => {
    const m = process.memoryUsage();
    maxHeapBytes = Math.max(maxHeapBytes, m.heapUsed);
    maxArrayBuffersBytes = Math.max(maxArrayBuffersBytes, m.arrayBuffers);
  };
  const timer = setInterval(sample, 50);
  const t0 = performance.now();
  const code = await main(process.argv.slice(3));
  const ms = performance.now() - t0;
  clearInterval(timer);
  sample();
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  const report: ChildReport = { code, ms, maxRssKiB: hwm ? Number(hwm[1]) : process.resourceUsage().maxRSS, maxHeapBytes, maxArrayBuffersBytes };
  process.stderr.write(`\nBENCH ${JSON.stringify(report)}\n`);
  process.exit(code);
}

function runPrepare(args: string[]): ChildReport {
  const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', ...args], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 });
  const line = r.stderr.split('\n').find((l) => l.startsWith('BENCH '));
  if (!line) throw new Error(`models prepare ${args.join(' ')} failed: ${r.stderr}`);
  const report = JSON.parse(line.slice(6)) as ChildReport;
  if (report.code !== 0) throw new Error(`models prepare exited ${report.code}: ${r.stderr}`);
  return report;
}



const GB = 1e9;
const fmtGB = (b: number): string => `${(b / GB).toFixed(2)} GB`;
const fmtMiB = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
const dirBytes = (dir: string): number => readdirSync(dir).reduce((a, f) => a + statSync(join(dir, f)).size, 0);

const layers = Number(process.env.BENCH_ESM_LAYERS ?? 36);
const [E, F, V, heads] = [2560, 10240, 33, 40];
const work = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'virnucpro-prepare-bench-'));
const ckpt = join(work, `esm2_t${layers}_3B_UR50D.pt`);
try {
  const t0 = performance.now();
  let lastLine = 0;
  await writeTorchStateDict(ckpt, esm2FairEsmState(layers, E, F, V, heads, 'float32'), {
    layout: { kind: 'fair-esm', args: { encoder_layers: layers, encoder_embed_dim: E, encoder_ffn_embed_dim: F, encoder_attention_heads: heads, token_dropout: true } },
    onProgress: (w, total) => {
      if (performance.now() - lastLine > 10000) {
        lastLine = performance.now();
        process.stderr.write(`writing the checkpoint: ${fmtGB(w)} of ${fmtGB(total)}\n`);
      }
    },
  });
  const writeSeconds = (performance.now() - t0) / 1000;
  const ckptBytes = statSync(ckpt).size;

  const rows: string[] = [];
  for (const fp16 of [false, true]) {
    const out = join(work, fp16 ? 'bundle-fp16' : 'bundle-fp32');
    process.stderr.write(`models prepare${fp16 ? ' --fp16' : ''} ...\n`);
    const r = runPrepare(['models', 'prepare', '--esm', ckpt, '--out', out, '-q', ...(fp16 ? ['--fp16'] : [])]);
    const bundleBytes = dirBytes(out);
    rows.push(
      `| ${fp16 ? '--fp16' : 'fp32'} | ${fmtGB(bundleBytes)} | ${(r.ms / 1000).toFixed(1)} s | ${((ckptBytes / GB) / (r.ms / 1000) * 1000).toFixed(0)} MB/s | ${fmtMiB(r.maxRssKiB * 1024)} | ${fmtMiB(r.maxHeapBytes)} | ${fmtMiB(r.maxArrayBuffersBytes)} |`,
    );
    rmSync(out, { recursive: true, force: true }); // disk: one bundle at a time
  }
  console.log(
    `Generated fair-esm checkpoint: ${layers} layers x ${E} wide, fp32, ${fmtGB(ckptBytes)} (written in ${writeSeconds.toFixed(1)} s, ${(ckptBytes / 1e6 / writeSeconds).toFixed(0)} MB/s).\n`,
  );
  console.log('`virnucpro models prepare --esm CKPT --out DIR` in a fresh process (sha256 of the source included):\n');
  console.log('| precision | bundle size | time | checkpoint MB/s | peak RSS | peak V8 heap used | peak ArrayBuffers |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) console.log(r);
} finally {
  if (process.env.BENCH_KEEP) console.log(`\nkept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
