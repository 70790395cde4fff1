/**
 * `npm run bench -- embed`: embedding throughput on this machine.
 *
 * - fp32 GEMM rate: one large MatMul in ONNX Runtime with the same session options and thread
 *   count as the models (the ceiling the encoders can approach), best of 20 runs, measured
 *   before and after the models (the higher is used);
 * - ESM-2-shaped encoders (8M, 35M, 150M shapes, and 3 layers of the 3B shape VirNucPro uses;
 *   random weights) and the real DNABERT-S shape,
 *   through the same embedders `virnucpro embed` uses, on a VirNucPro-like length mix
 *   (proteins 30-167 aa; DNA 500 nt ~ 110 tokens), reporting tokens/s, GFLOP/s, % of GEMM,
 *   and the padding waste of the batch plan;
 * - a PyTorch eager baseline of the same shapes and batches when a Python with torch is found
 *   (BENCH_PYTHON, else python3, else Debian's /usr/bin/python3 with python3-torch).
 *
 * BENCH_ONLY=TEXT runs only the rows whose name contains TEXT.
 * Each model is timed over BENCH_PASSES (default 3) whole passes after a warm-up, and the
 * fastest pass counts: the development machine is shared, and the best pass is the one least
 * disturbed by other jobs. Same for PyTorch.
 * Prints a Markdown table (recorded in docs/benchmarks.md).
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../src/formats/onnx/graph.js';
import { writeOnnxModel } from '../src/formats/onnx/writer.js';
import { paddingWaste, planBatches } from '../src/runtime/batching.js';
import { loadDnaTokenizer } from '../src/models/tokenizers/dnabert.js';
import { DnabertEmbedder, Esm2Embedder } from '../src/runtime/embedders.js';
import { openSession } from '../src/runtime/session.js';
import { DNABERT_SHAPE, ESM_SHAPES, dnabertModel, esmModel, rand, randomTensor, reseed, type Shape } from './random-encoders.js';

const threads = Number(process.env.BENCH_THREADS ?? availableParallelism());
const batchTokens = Number(process.env.BENCH_BATCH_TOKENS ?? 4096);
const passes = Number(process.env.BENCH_PASSES ?? 3);
/** BENCH_ONLY=TEXT: only the rows whose name contains TEXT (e.g. '3B', 'DNABERT'). */
const only = process.env.BENCH_ONLY;
const wanted = (s: Shape): boolean => !only || s.name.includes(only);
const work = mkdtempSync(join(tmpdir(), 'virnucpro-bench-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

async function gemmRate(): Promise<number> {
  const [m, k, n] = [2048, 1024, 1024];
  const g = new GraphBuilder('gemm', 18);
  const w = randomTensor([k, n], 0.05);
  g.output(g.node('MatMul', [g.input('x', 'float32', [m, k]), g.weight('w', 'float32', [k, n], () => w.bytes())]), 'y', 'float32', [m, n]);
  const path = join(work, 'gemm.onnx');
  await writeOnnxModel(g, path);
  const { session } = await openSession(path, { threads }); // the embedders' own session options
  const x = new ort.Tensor('float32', new Float32Array((await randomTensor([m, k], 1).bytes()).slice().buffer), [m, k]);
  for (let i = 0; i < 3; i++) await session.run({ x });
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    await session.run({ x });
    best = Math.min(best, performance.now() - t0);
  }
  await session.release();
  return (2 * m * k * n) / (best / 1000) / 1e9;
}

/** Forward FLOPs per token: 2 x weights in matrix products + attention (QK^T and PV) at length T. */
function flopsPerToken(s: Shape, gated: boolean, T: number): number {
  const matmul = 4 * s.dim * s.dim + (gated ? 3 : 2) * s.dim * s.ffn;
  return s.layers * (2 * matmul + 4 * T * s.dim);
}

function lengthMix(n: number, lo: number, hi: number): number[] {
  return Array.from({ length: n }, () => lo + Math.floor(rand() * (hi - lo + 1)));
}

interface Row {
  name: string;
  tokens: number;
  seconds: number;
  gflops: number;
  waste: number;
}

async function timeEmbedder(name: string, embed: (ids: Int32Array[]) => Promise<unknown>, ids: Int32Array[], s: Shape, gated: boolean): Promise<Row> {
  await embed(ids.slice(0, 8)); // warm-up
  const lengths = ids.map((x) => x.length);
  const tokens = lengths.reduce((a, b) => a + b, 0);
  let seconds = Number.POSITIVE_INFINITY;
  for (let pass = 0; pass < passes; pass++) {
    const t0 = performance.now();
    await embed(ids);
    seconds = Math.min(seconds, (performance.now() - t0) / 1000);
  }
  const meanT = tokens / ids.length;
  const gflops = (tokens * flopsPerToken(s, gated, meanT)) / seconds / 1e9;
  return { name, tokens, seconds, gflops, waste: paddingWaste(lengths, planBatches(lengths, { batchTokens })) };
}

/** A Python interpreter that can import torch, or null. */
function findTorchPython(): string | null {
  const candidates = process.env.BENCH_PYTHON ? [process.env.BENCH_PYTHON] : ['python3', '/usr/bin/python3'];
  return candidates.find((py) => spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0) ?? null;
}
const torchPython = findTorchPython();

/**
 * PyTorch eager (torch.nn.TransformerEncoder, pre-LN for ESM-2, post-LN for DNABERT-S) on the same
 * shapes, batches and thread count. Its feed-forward is not gated, so for DNABERT-S it gets a
 * 1.5x wider one (2*H*1.5I = 3*H*I, the gated block's weights): the same FLOPs per token.
 */
function torchBaseline(s: Shape, gated: boolean, lengths: number[]): number | null {
  if (!torchPython) return null;
  const ffn = gated ? (3 * s.ffn) / 2 : s.ffn;
  const script = `
import torch, time, json, sys
torch.set_num_threads(${threads})
L, E, H, F, post_ln = ${s.layers}, ${s.dim}, ${s.heads}, ${ffn}, ${gated ? 'True' : 'False'}
lengths = json.loads(sys.argv[1])
layer = torch.nn.TransformerEncoderLayer(E, H, F, dropout=0.0, activation='gelu', batch_first=True, norm_first=not post_ln)
enc = torch.nn.TransformerEncoder(layer, L, enable_nested_tensor=False).eval()
batches = json.loads(sys.argv[2])  # the embedders' own batch plan
inputs = [(torch.randn(len(b), lengths[b[0]], E), torch.arange(lengths[b[0]])[None, :] >= torch.tensor([lengths[i] for i in b])[:, None]) for b in batches]
def run():
    with torch.no_grad():
        for x, pad in inputs: enc(x, src_key_padding_mask=pad)
run()  # warm-up
best = float('inf')
for _ in range(${passes}):
    t0 = time.time(); run(); best = min(best, time.time() - t0)
print(best)
`;
  const env = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
  const plan = planBatches(lengths, { batchTokens }).map((b) => b.indices);
  const r = spawnSync(torchPython, ['-c', script, JSON.stringify(lengths), JSON.stringify(plan)], { encoding: 'utf8', env });
  if (r.status !== 0) {
    console.error(`PyTorch baseline failed: ${r.stderr.trim().split('\n').pop()}`);
    return null;
  }
  const seconds = Number(r.stdout.trim().split('\n').pop());
  const tokens = lengths.reduce((a, b) => a + b, 0);
  return (tokens * flopsPerToken(s, gated, tokens / lengths.length)) / seconds / 1e9;
}

/**
 * DNABERT-S tokenization next to the model: the embedder's own tokenizer (pure-JS
 * @huggingface/tokenizers) on as many random 500-nt sequences (VirNucPro's chunk length)
 * as the model row embedded, against that row's model time.
 */
async function timeTokenizer(tokenizerPath: string, count: number, modelSeconds: number): Promise<string> {
  const tokenizer = await loadDnaTokenizer(tokenizerPath);
  const seqs = Array.from({ length: count }, () => Array.from({ length: 500 }, () => 'ACGT'[Math.floor(rand() * 4)]).join(''));
  tokenizer.encode(seqs[0]);
  let seconds = Number.POSITIVE_INFINITY;
  for (let pass = 0; pass < passes; pass++) {
    const t0 = performance.now();
    for (const q of seqs) tokenizer.encode(q);
    seconds = Math.min(seconds, (performance.now() - t0) / 1000);
  }
  return `DNABERT-S tokenization of ${count} random 500-nt sequences: ${seconds.toFixed(3)} s (${((1000 * seconds) / count).toFixed(2)} ms each), ${((100 * seconds) / (seconds + modelSeconds)).toFixed(1)}% of tokenize + model time on this CPU.`;
}

async function main(): Promise<void> {
  let gemm = await gemmRate();
  let tokenizerShare = '';
  const rows: Array<[Row, number | null]> = [];
  const report = (r: Row, torch: number | null) => rows.push([r, torch]);
  const budgetTokens = Number(process.env.BENCH_TOKENS ?? 16384);
  for (const [k, s] of ESM_SHAPES.entries()) {
    reseed(1000 + k);
    const lengths = lengthMix(s.sequences ?? Math.max(16, Math.round(budgetTokens / 130 / (s.layers * s.dim * s.dim > 1e7 ? 2 : 1))), 32, 169);
    const ids = lengths.map((n) => Int32Array.from({ length: n }, (_, j) => (j === 0 ? 0 : j === n - 1 ? 2 : 4 + Math.floor(rand() * 20))));
    if (!wanted(s)) continue;
    const emb = await Esm2Embedder.create(esmModel(s), { threads, batchTokens });
    report(await timeEmbedder(s.name, (x) => emb.embedTokens(x), ids, s, false), torchBaseline(s, false, lengths));
    await emb.close();
  }
  if (wanted(DNABERT_SHAPE)) {
    const s = DNABERT_SHAPE;
    reseed(2000);
    const lengths = lengthMix(Math.round(budgetTokens / 110), 95, 125);
    const ids = lengths.map((n) => Int32Array.from({ length: n }, (_, j) => (j === 0 ? 1 : j === n - 1 ? 2 : 5 + Math.floor(rand() * 4000))));
    const dir = mkdtempSync(join(work, 'tok-'));
    const tokenizerPath = join(dir, 'tokenizer.json');
    copyFileSync(new URL('../test/fixtures/dnabert-s/real-tokenizer.json', import.meta.url), tokenizerPath);
    const emb = await DnabertEmbedder.create(dnabertModel(s), { threads, batchTokens, tokenizerPath });
    const row = await timeEmbedder(s.name, (x) => emb.embedTokens(x), ids, s, true);
    report(row, torchBaseline(s, true, lengths));
    await emb.close();
    tokenizerShare = await timeTokenizer(tokenizerPath, ids.length, row.seconds);
  }
  gemm = Math.max(gemm, await gemmRate());

  console.log(`threads ${threads}, batch tokens ${batchTokens}, best of ${passes} passes; fp32 GEMM (ORT MatMul 2048x1024x1024, same session options): ${gemm.toFixed(1)} GFLOP/s`);
  console.log(`PyTorch: ${torchPython ? `${torchPython} (torch.nn.TransformerEncoder, eval, no_grad)` : 'not found'}`);
  console.log('');
  console.log('| model | tokens | seconds | tokens/s | GFLOP/s | % of GEMM | padding waste | PyTorch eager GFLOP/s | speedup |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [r, torch] of rows) {
    const torchCell = torch === null ? (torchPython ? 'failed' : 'n/a (no torch)') : torch.toFixed(1);
    const speedup = torch === null ? '-' : `${(r.gflops / torch).toFixed(2)}x`;
    console.log(
      `| ${r.name} | ${r.tokens} | ${r.seconds.toFixed(2)} | ${(r.tokens / r.seconds).toFixed(0)} | ${r.gflops.toFixed(1)} | ${((100 * r.gflops) / gemm).toFixed(0)}% | ${(100 * r.waste).toFixed(1)}% | ${torchCell} | ${speedup} |`,
    );
  }
  if (tokenizerShare) console.log(`\n${tokenizerShare}`);
}

await main();
