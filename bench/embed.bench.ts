/**
 * `npm run bench -- embed`: embedding throughput on this machine.
 *
 * - fp32 GEMM rate: one large MatMul in ONNX Runtime (the ceiling the encoders can approach);
 * - ESM-2-shaped encoders (8M, 35M, 150M shapes, random weights) and the real DNABERT-S shape,
 *   through the same embedders `virnucpro embed` uses, on a VirNucPro-like length mix
 *   (proteins 30-167 aa; DNA 500 nt ~ 110 tokens), reporting tokens/s, GFLOP/s, % of GEMM,
 *   and the padding waste of the batch plan;
 * - a PyTorch eager baseline of the same shapes when `python3 -c "import torch"` works.
 * Prints a Markdown table (recorded in docs/benchmarks.md).
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../src/formats/onnx/graph.js';
import { writeOnnxModel } from '../src/formats/onnx/writer.js';
import { memoryTensor, type TensorMap } from '../src/formats/tensor.js';
import type { DnabertConfig, Esm2Config, LoadedModel } from '../src/models/config.js';
import { paddingWaste, planBatches } from '../src/runtime/batching.js';
import { DnabertEmbedder, Esm2Embedder } from '../src/runtime/embedders.js';

const threads = Number(process.env.BENCH_THREADS ?? availableParallelism());
const batchTokens = Number(process.env.BENCH_BATCH_TOKENS ?? 4096);
const work = mkdtempSync(join(tmpdir(), 'virnucpro-bench-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

let seed = 12345;
function rand(): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
}
function randomTensor(shape: number[], scale: number): ReturnType<typeof memoryTensor> {
  const n = shape.reduce((a, b) => a * b, 1);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
  return memoryTensor('float32', shape, a);
}
const ones = (n: number) => memoryTensor('float32', [n], new Float32Array(n).fill(1));

async function gemmRate(): Promise<number> {
  const [m, k, n] = [2048, 1024, 1024];
  const g = new GraphBuilder('gemm', 18);
  const w = randomTensor([k, n], 0.05);
  g.output(g.node('MatMul', [g.input('x', 'float32', [m, k]), g.weight('w', 'float32', [k, n], () => w.bytes())]), 'y', 'float32', [m, n]);
  const path = join(work, 'gemm.onnx');
  await writeOnnxModel(g, path);
  const s = await ort.InferenceSession.create(path, { intraOpNumThreads: threads });
  const x = new ort.Tensor('float32', new Float32Array((await randomTensor([m, k], 1).bytes()).slice().buffer), [m, k]);
  for (let i = 0; i < 3; i++) await s.run({ x });
  const reps = 20;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await s.run({ x });
  const sec = (performance.now() - t0) / 1000;
  await s.release();
  return (2 * m * k * n * reps) / sec / 1e9;
}

interface Shape {
  name: string;
  layers: number;
  dim: number;
  heads: number;
  ffn: number;
  vocab: number;
}
const ESM_SHAPES: Shape[] = [
  { name: 'ESM-2 8M shape', layers: 6, dim: 320, heads: 20, ffn: 1280, vocab: 33 },
  { name: 'ESM-2 35M shape', layers: 12, dim: 480, heads: 20, ffn: 1920, vocab: 33 },
  { name: 'ESM-2 150M shape', layers: 30, dim: 640, heads: 20, ffn: 2560, vocab: 33 },
];
const DNABERT_SHAPE: Shape = { name: 'DNABERT-S (real shape)', layers: 12, dim: 768, heads: 12, ffn: 3072, vocab: 4096 };

function esmModel(s: Shape): LoadedModel<Esm2Config> {
  const w: TensorMap = new Map();
  const E = s.dim;
  const sc = 1 / Math.sqrt(E);
  w.set('embed_tokens.weight', randomTensor([s.vocab, E], 1));
  for (let i = 0; i < s.layers; i++) {
    const p = `layers.${i}`;
    for (const k of ['q', 'k', 'v', 'out']) {
      w.set(`${p}.self_attn.${k}_proj.weight`, randomTensor([E, E], sc));
      w.set(`${p}.self_attn.${k}_proj.bias`, randomTensor([E], 0.01));
    }
    const hd = E / s.heads;
    w.set(`${p}.self_attn.rot_emb.inv_freq`, memoryTensor('float32', [hd / 2], Float32Array.from({ length: hd / 2 }, (_, j) => 1 / 10000 ** ((2 * j) / hd))));
    for (const ln of ['self_attn_layer_norm', 'final_layer_norm']) {
      w.set(`${p}.${ln}.weight`, ones(E));
      w.set(`${p}.${ln}.bias`, randomTensor([E], 0.01));
    }
    w.set(`${p}.fc1.weight`, randomTensor([s.ffn, E], sc));
    w.set(`${p}.fc1.bias`, randomTensor([s.ffn], 0.01));
    w.set(`${p}.fc2.weight`, randomTensor([E, s.ffn], 1 / Math.sqrt(s.ffn)));
    w.set(`${p}.fc2.bias`, randomTensor([E], 0.01));
  }
  w.set('emb_layer_norm_after.weight', ones(E));
  w.set('emb_layer_norm_after.bias', randomTensor([E], 0.01));
  const config: Esm2Config = { numLayers: s.layers, embedDim: E, numHeads: s.heads, ffnDim: s.ffn, vocabSize: s.vocab, tokenDropout: true, layerNormEps: 1e-5, padIdx: 1, maskIdx: 32, clsIdx: 0, eosIdx: 2 };
  return { kind: 'esm2', format: 'random', config, weights: w, files: [] };
}

function dnabertModel(s: Shape): LoadedModel<DnabertConfig> {
  const w: TensorMap = new Map();
  const H = s.dim;
  const sc = 1 / Math.sqrt(H);
  w.set('embeddings.word_embeddings.weight', randomTensor([s.vocab, H], 1));
  w.set('embeddings.token_type_embeddings.weight', randomTensor([2, H], 0.1));
  w.set('embeddings.LayerNorm.weight', ones(H));
  w.set('embeddings.LayerNorm.bias', randomTensor([H], 0.01));
  for (let i = 0; i < s.layers; i++) {
    const p = `encoder.layer.${i}`;
    w.set(`${p}.attention.self.Wqkv.weight`, randomTensor([3 * H, H], sc));
    w.set(`${p}.attention.self.Wqkv.bias`, randomTensor([3 * H], 0.01));
    w.set(`${p}.attention.output.dense.weight`, randomTensor([H, H], sc));
    w.set(`${p}.attention.output.dense.bias`, randomTensor([H], 0.01));
    w.set(`${p}.mlp.gated_layers.weight`, randomTensor([2 * s.ffn, H], sc));
    w.set(`${p}.mlp.wo.weight`, randomTensor([H, s.ffn], 1 / Math.sqrt(s.ffn)));
    w.set(`${p}.mlp.wo.bias`, randomTensor([H], 0.01));
    for (const ln of ['attention.output.LayerNorm', 'mlp.layernorm']) {
      w.set(`${p}.${ln}.weight`, ones(H));
      w.set(`${p}.${ln}.bias`, randomTensor([H], 0.01));
    }
  }
  const config: DnabertConfig = { numLayers: s.layers, hiddenSize: H, numHeads: s.heads, intermediateSize: s.ffn, vocabSize: s.vocab, typeVocabSize: 2, layerNormEps: 1e-12, alibiStartingSize: 512 };
  return { kind: 'dnabert-s', format: 'random', config, weights: w, files: [] };
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
  const t0 = performance.now();
  await embed(ids);
  const seconds = (performance.now() - t0) / 1000;
  const meanT = tokens / ids.length;
  const gflops = (tokens * flopsPerToken(s, gated, meanT)) / seconds / 1e9;
  return { name, tokens, seconds, gflops, waste: paddingWaste(lengths, planBatches(lengths, { batchTokens })) };
}

function torchBaseline(s: Shape, gated: boolean, lengths: number[]): number | null {
  const probe = spawnSync('python3', ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return null;
  const script = `
import torch, time, json, sys
torch.set_num_threads(${threads})
L, E, H, F, gated = ${s.layers}, ${s.dim}, ${s.heads}, ${s.ffn}, ${gated ? 'True' : 'False'}
lengths = json.loads(sys.argv[1])
layer = torch.nn.TransformerEncoderLayer(E, H, F, dropout=0.0, activation='gelu', batch_first=True, norm_first=not gated)
enc = torch.nn.TransformerEncoder(layer, L, enable_nested_tensor=False).eval()
budget = ${batchTokens}
order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
batches, cur = [], []
for i in order:
    if cur and (len(cur) + 1) * lengths[cur[0]] > budget:
        batches.append(cur); cur = []
    cur.append(i)
if cur: batches.append(cur)
def run():
    for b in batches:
        T = lengths[b[0]]
        x = torch.randn(len(b), T, E)
        with torch.no_grad(): enc(x)
t0 = time.time(); run(); print(time.time() - t0)
`;
  const r = spawnSync('python3', ['-c', script, JSON.stringify(lengths)], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const seconds = Number(r.stdout.trim().split('\n').pop());
  const tokens = lengths.reduce((a, b) => a + b, 0);
  return (tokens * flopsPerToken(s, gated, tokens / lengths.length)) / seconds / 1e9;
}

async function main(): Promise<void> {
  const gemm = await gemmRate();
  const hasTorch = spawnSync('python3', ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
  console.log(`threads ${threads}, batch tokens ${batchTokens}; fp32 GEMM (ORT MatMul 2048x1024x1024): ${gemm.toFixed(1)} GFLOP/s`);
  console.log('');
  console.log('| model | tokens | seconds | tokens/s | GFLOP/s | % of GEMM | padding waste | PyTorch eager GFLOP/s | speedup |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const report = (r: Row, torch: number | null) =>
    console.log(
      `| ${r.name} | ${r.tokens} | ${r.seconds.toFixed(2)} | ${(r.tokens / r.seconds).toFixed(0)} | ${r.gflops.toFixed(1)} | ${((100 * r.gflops) / gemm).toFixed(0)}% | ${(100 * r.waste).toFixed(1)}% | ${torch === null ? (hasTorch ? 'failed' : 'n/a (no torch)') : torch.toFixed(1)} | ${torch === null ? '-' : `${(r.gflops / torch).toFixed(2)}x`} |`,
    );
  const budgetTokens = Number(process.env.BENCH_TOKENS ?? 16384);
  for (const s of ESM_SHAPES) {
    const lengths = lengthMix(Math.max(16, Math.round(budgetTokens / 130 / (s.layers * s.dim * s.dim > 1e7 ? 2 : 1))), 32, 169);
    const ids = lengths.map((n) => Int32Array.from({ length: n }, (_, j) => (j === 0 ? 0 : j === n - 1 ? 2 : 4 + Math.floor(rand() * 20))));
    const emb = await Esm2Embedder.create(esmModel(s), { threads, batchTokens });
    report(await timeEmbedder(s.name, (x) => emb.embedTokens(x), ids, s, false), torchBaseline(s, false, lengths));
    await emb.close();
  }
  {
    const s = DNABERT_SHAPE;
    const lengths = lengthMix(Math.round(budgetTokens / 110), 95, 125);
    const ids = lengths.map((n) => Int32Array.from({ length: n }, (_, j) => (j === 0 ? 1 : j === n - 1 ? 2 : 5 + Math.floor(rand() * 4000))));
    const dir = mkdtempSync(join(work, 'tok-'));
    const tokenizerPath = join(dir, 'tokenizer.json');
    const { copyFileSync } = await import('node:fs');
    copyFileSync(new URL('../test/fixtures/dnabert-s/real-tokenizer.json', import.meta.url), tokenizerPath);
    const emb = await DnabertEmbedder.create(dnabertModel(s), { threads, batchTokens, tokenizerPath });
    report(await timeEmbedder(s.name, (x) => emb.embedTokens(x), ids, s, true), torchBaseline(s, true, lengths));
    await emb.close();
  }
}

await main();
