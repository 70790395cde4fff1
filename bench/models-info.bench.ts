/**
 * `npm run bench -- models-info`: how long `virnucpro models info` takes and
 * how much memory it uses, on the fixture models and on a generated
 * checkpoint with the shapes of ESM-2 3B (`esm2_t36_3B_UR50D.pt`, fp16,
 * about 5.7 GB, so ZIP64 offsets are exercised), written by our own torch
 * writer. Also times the two DNABERT-S tokenizer libraries on long inputs.
 *
 * Each `models info` runs in a fresh process (the CLI, as a user runs it);
 * peak RSS is that process's own maxRSS. BENCH_ESM_LAYERS=N shrinks the
 * generated checkpoint (default 36 layers); BENCH_KEEP=1 keeps it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeTorchStateDict } from '../src/formats/pytorch/writer.js';
import { esm2FairEsmState } from './lib/generated-esm2.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const self = fileURLToPath(import.meta.url);

if (process.argv[2] === '--child') {
  // Runs the CLI in this process and reports its peak RSS on stderr.
  const { main } = await import('../src/cli/program.js');
  const t0 = performance.now();
  const code = await main(['models', 'info', process.argv[3], '--json']);
  // VmHWM is this process's own peak RSS (getrusage's maxRSS can carry the parent's peak across fork+exec).
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  const maxRssKiB = hwm ? Number(hwm[1]) : process.resourceUsage().maxRSS;
  process.stderr.write(`\nBENCH ${JSON.stringify({ code, ms: performance.now() - t0, maxRssKiB })}\n`);
  process.exit(code);
}

interface Measure {
  code: number;
  /** Wall time of the whole process, startup included. */
  wallMs: number;
  /** Time spent in the command itself. */
  ms: number;
  maxRssKiB: number;
  stdoutBytes: number;
}

function measureInfo(path: string): Measure {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', path], { cwd: root, maxBuffer: 1 << 30 });
  const wallMs = performance.now() - t0;
  const line = r.stderr.toString().split('\n').find((l) => l.startsWith('BENCH '));
  if (!line) throw new Error(`models info ${path} failed: ${r.stderr.toString()}`);
  return { ...(JSON.parse(line.slice(6)) as Omit<Measure, 'wallMs' | 'stdoutBytes'>), wallMs, stdoutBytes: r.stdout.length };
}



const fmtMs = (x: number): string => `${x.toFixed(0)} ms`;
const fmtMiB = (kib: number): string => `${(kib / 1024).toFixed(0)} MiB`;
const fmtSize = (b: number): string => (b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${(b / 1e3).toFixed(0)} kB`);

function sizeOf(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return ['model.safetensors', 'pytorch_model.bin'].reduce((a, f) => {
    try {
      return a + statSync(join(path, f)).size;
    } catch {
      return a;
    }
  }, 0);
}

const rows: string[] = [];
const fixtures = [
  'test/fixtures/esm2/fair-esm/esm2_t2_32_tiny.pt',
  'test/fixtures/esm2/hf',
  'test/fixtures/dnabert-s/model',
  'test/fixtures/mlp/mlp_full_module.pth',
];
for (const rel of fixtures) {
  const m = measureInfo(join(root, rel));
  rows.push(`| ${rel} | ${fmtSize(sizeOf(join(root, rel)))} | ${fmtMs(m.ms)} | ${fmtMs(m.wallMs)} | ${fmtMiB(m.maxRssKiB)} |`);
}

const layers = Number(process.env.BENCH_ESM_LAYERS ?? 36);
const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'virnucpro-bench-'));
const ckpt = join(dir, `esm2_t${layers}_3B_UR50D.pt`);
try {
  const state = esm2FairEsmState(layers, 2560, 10240, 33, 40, 'float16');
  const tw = performance.now();
  let lastLine = 0;
  await writeTorchStateDict(ckpt, state, {
    layout: { kind: 'fair-esm', args: { encoder_layers: layers, encoder_embed_dim: 2560, encoder_ffn_embed_dim: 10240, encoder_attention_heads: 40, token_dropout: true } },
    onProgress: (w, total) => {
      if (performance.now() - lastLine > 5000) {
        lastLine = performance.now();
        process.stderr.write(`writing ${fmtSize(w)} of ${fmtSize(total)}\n`);
      }
    },
  });
  const writeMs = performance.now() - tw;
  const bytes = statSync(ckpt).size;
  const m = measureInfo(ckpt);
  rows.push(`| generated ESM-2 3B-shaped fair-esm .pt (${layers} layers, fp16) | ${fmtSize(bytes)} | ${fmtMs(m.ms)} | ${fmtMs(m.wallMs)} | ${fmtMiB(m.maxRssKiB)} |`);
  console.log('`virnucpro models info PATH --json`, one fresh process per row (peak RSS of that process):\n');
  console.log('| model | weights size | command time | process wall time | peak RSS |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(r);
  console.log(`\nWriting the generated checkpoint (writeTorchStateDict, fp16 pattern data): ${(writeMs / 1000).toFixed(1)} s, ${(bytes / 1e6 / (writeMs / 1000)).toFixed(0)} MB/s.`);
} finally {
  if (!process.env.BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  else console.log(`\nkept ${ckpt}`);
}

// DNABERT-S tokenizer: the pure-JS library (what the package uses) vs the Rust binding (dev dependency).
{
  const { Tokenizer: JsTokenizer } = await import('@huggingface/tokenizers');
  const { Tokenizer: RustTokenizer } = await import('tokenizers');
  const tjPath = join(root, 'test/fixtures/dnabert-s/real-tokenizer.json');
  const js = new JsTokenizer(JSON.parse(readFileSync(tjPath, 'utf8')), JSON.parse(readFileSync(join(root, 'test/fixtures/dnabert-s/model/tokenizer_config.json'), 'utf8')));
  const rust = RustTokenizer.fromFile(tjPath);
  let seed = 3;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  console.log('\nDNABERT-S tokenizer (real DNABERT-2 vocabulary), random ACGT, per call, one call at a time:\n');
  console.log('| input length | @huggingface/tokenizers (sync) | tokenizers (Rust binding, async) |');
  console.log('| --- | --- | --- |');
  for (const len of [500, 3000]) {
    const seqs = Array.from({ length: 200 }, () => Array.from({ length: len }, () => 'ACGT'[Math.floor(rnd() * 4)]).join(''));
    const t0 = performance.now();
    for (const s of seqs) js.encode(s);
    const jsMs = (performance.now() - t0) / seqs.length;
    const t1 = performance.now();
    for (const s of seqs) await rust.encode(s);
    const rustMs = (performance.now() - t1) / seqs.length;
    console.log(`| ${len} nt | ${jsMs.toFixed(2)} ms | ${rustMs.toFixed(2)} ms |`);
  }
}
