/**
 * The Node.js side of scripts/gpu-check.sh, the one prepared run on a GPU machine (docs/gpu.md):
 *
 *   plan   --work DIR [--small]              the shapes and batches both sides time (DIR/plan.json)
 *   run    --work DIR [--small] [--budget S] ONNX Runtime on each GPU provider that starts: WebGPU
 *                                            vs CPU numerics at 31, 32, 64 and 1024 tokens; ESM-2
 *                                            3B-shaped (36 layers) and DNABERT-S throughput in fp16
 *                                            and fp32; a large MatMul as the ceiling (DIR/ort.json)
 *   report --work DIR --out DIR              figures.md and figures.json from ort.json and torch.json
 *
 * Weights are random (or a cheap deterministic pattern for the 3B shape, streamed tensor by
 * tensor): only speed and CPU agreement mean anything. The models run through the embedders
 * `virnucpro embed` uses (graph building, batching, padding), so what is timed is our path.
 *
 * scripts/prepare-device-carry.sh bundles this file (esbuild) into .device/gpu-check.mjs, since the
 * device has no tsx; here it runs with `node --import tsx scripts/gpu-check.ts ... --small`.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, float32ToFloat16 } from '../src/formats/onnx/graph.js';
import { writeOnnxModel } from '../src/formats/onnx/writer.js';
import type { TensorMap } from '../src/formats/tensor.js';
import type { DnabertConfig, Esm2Config, LoadedModel } from '../src/models/config.js';
import { planBatches } from '../src/runtime/batching.js';
import { DnabertEmbedder, Esm2Embedder } from '../src/runtime/embedders.js';
import { probeProviders } from '../src/runtime/provider-probe.js';
import { openSession } from '../src/runtime/session.js';
import { esm2FairEsmState } from '../bench/lib/generated-esm2.js';
import { dnabertModel, esmModel, rand, randomTensor, reseed, type Shape } from '../bench/random-encoders.js';

type Precision = 'fp32' | 'fp16';
type GpuProvider = 'webgpu' | 'cuda';

/** What both sides time: a model shape, its sequence lengths in tokens (specials included) and the batch plan. */
interface ModelPlan {
  key: string;
  kind: 'esm2' | 'dnabert';
  name: string;
  layers: number;
  dim: number;
  heads: number;
  ffn: number;
  vocab: number;
  lengths: number[];
  batches: number[][];
}

interface Plan {
  small: boolean;
  batch_tokens: number;
  precisions: Precision[];
  models: ModelPlan[];
  /** Timed passes stop after this many seconds (each side). */
  pass_budget_s: number;
  matmul_n: number;
  numerics: { lengths: number[]; per_length: number; shapes: Array<{ kind: 'esm2' | 'dnabert'; shape: Shape }> };
}

const NUMERIC_LENGTHS = [31, 32, 64, 1024];

function makePlan(small: boolean): Plan {
  const batchTokens = small ? 1024 : 16384;
  const esm: Shape = small
    ? { name: 'ESM-2 (small stand-in)', layers: 2, dim: 320, heads: 20, ffn: 1280, vocab: 33 }
    : { name: 'ESM-2 3B shape (36 layers)', layers: 36, dim: 2560, heads: 40, ffn: 10240, vocab: 33 };
  const dna: Shape = small
    ? { name: 'DNABERT-S (small stand-in)', layers: 2, dim: 128, heads: 4, ffn: 512, vocab: 4096 }
    : { name: 'DNABERT-S shape', layers: 12, dim: 768, heads: 12, ffn: 3072, vocab: 4096 };
  reseed(4242);
  // VirNucPro's inputs: proteins of 30-166 residues (500-bp chunks), DNA chunks of ~110 BPE tokens.
  const mix = (budget: number, lo: number, hi: number): number[] => {
    const out: number[] = [];
    for (let total = 0; total < budget; ) {
      const n = lo + Math.floor(rand() * (hi - lo + 1));
      out.push(n);
      total += n;
    }
    return out;
  };
  const model = (key: string, kind: 'esm2' | 'dnabert', s: Shape, lengths: number[]): ModelPlan => ({
    key,
    kind,
    name: s.name,
    layers: s.layers,
    dim: s.dim,
    heads: s.heads,
    ffn: s.ffn,
    vocab: s.vocab,
    lengths,
    batches: planBatches(lengths, { batchTokens }).map((b) => b.indices),
  });
  return {
    small,
    batch_tokens: batchTokens,
    precisions: ['fp16', 'fp32'],
    models: [model('esm2', 'esm2', esm, mix(small ? 512 : 32768, 32, 168)), model('dnabert-s', 'dnabert', dna, mix(small ? 512 : 65536, 95, 125))],
    pass_budget_s: small ? 0.2 : 8,
    matmul_n: small ? 256 : 4096,
    numerics: {
      lengths: NUMERIC_LENGTHS,
      per_length: small ? 2 : 4,
      shapes: small
        ? [
            { kind: 'esm2', shape: { name: 'ESM-2 (small stand-in)', layers: 2, dim: 64, heads: 4, ffn: 128, vocab: 33 } },
            { kind: 'dnabert', shape: { name: 'DNABERT-S (small stand-in)', layers: 2, dim: 64, heads: 4, ffn: 128, vocab: 4096 } },
          ]
        : [
            { kind: 'esm2', shape: { name: 'ESM-2 35M shape', layers: 12, dim: 480, heads: 20, ffn: 1920, vocab: 33 } },
            { kind: 'dnabert', shape: { name: 'DNABERT-S shape', layers: 12, dim: 768, heads: 12, ffn: 3072, vocab: 4096 } },
          ],
    },
  };
}

/** Token ids: ESM-2 <cls> residues <eos>; DNABERT-S [CLS] BPE ids [SEP]. */
function tokenIds(kind: 'esm2' | 'dnabert', lengths: readonly number[]): Int32Array[] {
  return lengths.map((n) =>
    Int32Array.from({ length: n }, (_, j) => (kind === 'esm2' ? (j === 0 ? 0 : j === n - 1 ? 2 : 4 + Math.floor(rand() * 20)) : j === 0 ? 1 : j === n - 1 ? 2 : 5 + Math.floor(rand() * 4000))),
  );
}

const DNA_TOKENIZER = fileURLToPath(new URL('../assets/demo/dnabert-s-tokenizer.json', import.meta.url));

/**
 * ESM-2 with the 3B model's real tensor shapes and cheap deterministic weights, made one tensor at a
 * time (never all in memory), in the precision the graph is built in (converting 3 billion weights
 * to fp16 in JavaScript would double the time to build the graph).
 */
function patternEsm2(s: Shape, precision: Precision): LoadedModel<Esm2Config> {
  const prefix = 'encoder.sentence_encoder.';
  const weights: TensorMap = new Map();
  for (const [name, t] of esm2FairEsmState(s.layers, s.dim, s.ffn, s.vocab, s.heads, precision === 'fp16' ? 'float16' : 'float32')) if (name.startsWith(prefix)) weights.set(name.slice(prefix.length), t);
  const config: Esm2Config = { numLayers: s.layers, embedDim: s.dim, numHeads: s.heads, ffnDim: s.ffn, vocabSize: s.vocab, tokenDropout: true, layerNormEps: 1e-5, padIdx: 1, maskIdx: 32 };
  return { kind: 'esm2', format: 'pattern', config, weights, files: [] };
}

interface Embedder {
  embedTokens(ids: readonly Int32Array[]): Promise<Float32Array[]>;
  close(): Promise<void>;
}

async function openEmbedder(kind: 'esm2' | 'dnabert', model: LoadedModel<Esm2Config> | LoadedModel<DnabertConfig>, device: string, precision: Precision, batchTokens: number): Promise<Embedder> {
  const options = { device, precision, batchTokens, threads: availableParallelism(), allowCpuFallback: false };
  return kind === 'esm2'
    ? Esm2Embedder.create(model as LoadedModel<Esm2Config>, options)
    : DnabertEmbedder.create(model as LoadedModel<DnabertConfig>, { ...options, tokenizerPath: DNA_TOKENIZER });
}

function compare(a: Float32Array, b: Float32Array): { maxAbs: number; cosine: number } {
  let maxAbs = 0;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return { maxAbs: Number.isNaN(maxAbs) || a.some(Number.isNaN) || b.some(Number.isNaN) ? NaN : maxAbs, cosine: ab / Math.sqrt(aa * bb) };
}

interface NumericsRow {
  model: string;
  provider: GpuProvider;
  precision: Precision;
  tokens: number;
  max_abs_diff: number | null;
  min_cosine: number | null;
  error?: string;
}

/** Each provider's embeddings against the CPU's fp32, per sequence length. */
async function numerics(plan: Plan, providers: GpuProvider[], log: (l: string) => void): Promise<NumericsRow[]> {
  const rows: NumericsRow[] = [];
  for (const [k, { kind, shape }] of plan.numerics.shapes.entries()) {
    reseed(7000 + k);
    const model = kind === 'esm2' ? esmModel(shape) : dnabertModel(shape);
    const byLength = plan.numerics.lengths.map((n) => tokenIds(kind, Array(plan.numerics.per_length).fill(n)));
    const cpu = await openEmbedder(kind, model, 'cpu', 'fp32', 1 << 16);
    const reference: Float32Array[][] = [];
    for (const ids of byLength) reference.push(await cpu.embedTokens(ids));
    await cpu.close();
    for (const provider of providers) {
      for (const precision of plan.precisions) {
        let gpu: Embedder | undefined;
        try {
          gpu = await openEmbedder(kind, model, provider, precision, 1 << 16);
          for (const [i, ids] of byLength.entries()) {
            const got = await gpu.embedTokens(ids);
            const cmp = got.map((g, j) => compare(reference[i][j], g));
            const row = {
              model: shape.name,
              provider,
              precision,
              tokens: plan.numerics.lengths[i],
              max_abs_diff: Math.max(...cmp.map((c) => c.maxAbs)),
              min_cosine: Math.min(...cmp.map((c) => c.cosine)),
            };
            rows.push(row);
            log(`numerics ${row.model} ${provider} ${precision} ${row.tokens} tokens: max |diff| ${row.max_abs_diff.toExponential(2)}, min cosine ${row.min_cosine.toFixed(6)}`);
          }
        } catch (e) {
          rows.push({ model: shape.name, provider, precision, tokens: 0, max_abs_diff: null, min_cosine: null, error: String((e as Error).message).split('\n')[0] });
          log(`numerics ${shape.name} ${provider} ${precision}: failed: ${(e as Error).message.split('\n')[0]}`);
        } finally {
          await gpu?.close();
        }
      }
    }
  }
  return rows;
}

interface ThroughputRow {
  model: string;
  provider: GpuProvider;
  precision: Precision;
  tokens: number;
  open_s: number | null;
  first_s: number | null;
  best_s: number | null;
  tokens_per_s: number | null;
  error?: string;
}

async function throughput(plan: Plan, providers: GpuProvider[], deadline: number, log: (l: string) => void, rows: ThroughputRow[] = []): Promise<ThroughputRow[]> {
  // fp16 first: the default on GPUs, and the figure that matters most if time runs out.
  for (const precision of plan.precisions) {
    for (const m of plan.models) {
      reseed(9000);
      const ids = tokenIds(m.kind, m.lengths);
      const shape: Shape = { name: m.name, layers: m.layers, dim: m.dim, heads: m.heads, ffn: m.ffn, vocab: m.vocab };
      const model = m.kind === 'esm2' ? patternEsm2(shape, precision) : dnabertModel(shape);
      const tokens = m.lengths.reduce((a, b) => a + b, 0);
      for (const provider of providers) {
        if (Date.now() > deadline) {
          rows.push({ model: m.name, provider, precision, tokens, open_s: null, first_s: null, best_s: null, tokens_per_s: null, error: 'skipped: time budget spent' });
          continue;
        }
        let emb: Embedder | undefined;
        try {
          let t0 = performance.now();
          emb = await openEmbedder(m.kind, model, provider, precision, plan.batch_tokens);
          const openS = (performance.now() - t0) / 1000;
          t0 = performance.now();
          await emb.embedTokens(ids);
          const firstS = (performance.now() - t0) / 1000;
          let best = Number.POSITIVE_INFINITY;
          for (let spent = 0; spent < plan.pass_budget_s || best === Number.POSITIVE_INFINITY; ) {
            if (Date.now() > deadline && best !== Number.POSITIVE_INFINITY) break;
            t0 = performance.now();
            await emb.embedTokens(ids);
            const s = (performance.now() - t0) / 1000;
            best = Math.min(best, s);
            spent += s;
            if (Date.now() > deadline) break;
          }
          const row = { model: m.name, provider, precision, tokens, open_s: openS, first_s: firstS, best_s: best, tokens_per_s: tokens / best };
          rows.push(row);
          log(`throughput ${m.name} ${provider} ${precision}: ${tokens} tokens, open ${openS.toFixed(1)} s, first pass ${firstS.toFixed(2)} s, best ${best.toFixed(2)} s: ${row.tokens_per_s.toFixed(0)} tokens/s`);
        } catch (e) {
          rows.push({ model: m.name, provider, precision, tokens, open_s: null, first_s: null, best_s: null, tokens_per_s: null, error: String((e as Error).message).split('\n')[0] });
          log(`throughput ${m.name} ${provider} ${precision}: failed: ${(e as Error).message.split('\n')[0]}`);
        } finally {
          await emb?.close();
        }
      }
    }
  }
  return rows;
}

/** A chain of MatMuls by a constant (one upload and download for `chain` products): the provider's GEMM ceiling. */
async function matmulCeiling(n: number, provider: GpuProvider, precision: Precision, work: string): Promise<{ provider: GpuProvider; precision: Precision; shape: string; tflops: number | null; error?: string }> {
  const chain = 8;
  const type = precision === 'fp16' ? 'float16' : 'float32';
  try {
    const g = new GraphBuilder('matmul', 18);
    const w = randomTensor([n, n], 1 / Math.sqrt(n));
    const wBytes = async (): Promise<Uint8Array> => {
      const f = new Float32Array((await w.bytes()).slice().buffer);
      return type === 'float32' ? new Uint8Array(f.buffer) : float32ToFloat16(f);
    };
    let y = g.input('x', type, [n, n]);
    const weight = g.weight('w', type, [n, n], wBytes);
    for (let i = 0; i < chain; i++) y = g.node('MatMul', [y, weight]);
    g.output(y, 'y', type, [n, n]);
    const path = join(work, `matmul-${precision}.onnx`);
    await writeOnnxModel(g, path);
    const { session } = await openSession(path, { device: { kind: provider, index: 0 } });
    const x = new ort.Tensor(type, type === 'float16' ? new Uint16Array(n * n).fill(0x3c00) : new Float32Array(n * n).fill(1), [n, n]);
    for (let i = 0; i < 2; i++) await session.run({ x });
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await session.run({ x });
      best = Math.min(best, (performance.now() - t0) / 1000);
    }
    await session.release();
    return { provider, precision, shape: `${chain} x ${n}x${n}x${n}`, tflops: (chain * 2 * n ** 3) / best / 1e12 };
  } catch (e) {
    return { provider, precision, shape: `${n}x${n}x${n}`, tflops: null, error: String((e as Error).message).split('\n')[0] };
  }
}

function gpuInfo(): string {
  const r = spawnSync('nvidia-smi', ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : 'no nvidia-smi';
}

async function run(plan: Plan, work: string, budgetS: number): Promise<void> {
  const deadline = Date.now() + budgetS * 1000;
  const log = (l: string): void => console.log(`[gpu-check ${new Date().toISOString().slice(11, 19)}] ${l}`);
  const probes = await probeProviders({ webgpu: true, cudaOrdinals: [0] });
  for (const p of probes) log(`${p.provider}: ${p.usable ? 'starts' : `does not start: ${p.reason}; ${p.fix}`}`);
  const providers = probes.filter((p) => p.usable).map((p) => p.provider as GpuProvider);
  const result = {
    gpu: gpuInfo(),
    onnxruntime: ort.env.versions.common,
    node: process.version,
    providers: probes,
    numerics: [] as NumericsRow[],
    throughput: [] as ThroughputRow[],
    matmul: [] as Array<Awaited<ReturnType<typeof matmulCeiling>>>,
  };
  // Saved after each part: if the step's time limit kills the run, what was measured stays.
  const save = (): void => writeFileSync(join(work, 'ort.json'), `${JSON.stringify(result, null, 2)}\n`);
  save();
  result.numerics = await numerics(plan, providers, log);
  save();
  for (const provider of providers) for (const precision of plan.precisions) result.matmul.push(await matmulCeiling(plan.matmul_n, provider, precision, work));
  for (const m of result.matmul) log(`matmul ${m.provider} ${m.precision} ${m.shape}: ${m.tflops === null ? `failed: ${m.error}` : `${m.tflops.toPrecision(3)} TFLOP/s`}`);
  save();
  result.throughput = await throughput(plan, providers, deadline, (line) => {
    log(line);
    save();
  }, result.throughput);
  save();
}

const fmt = (x: number | null | undefined, digits = 0): string => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(digits));

function report(work: string, out: string): void {
  const ortResult = JSON.parse(readFileSync(join(work, 'ort.json'), 'utf8'));
  const torchPath = join(work, 'torch.json');
  const torch = existsSync(torchPath) ? JSON.parse(readFileSync(torchPath, 'utf8')) : { results: [], matmul: [], errors: ['torch.json missing'] };
  const plan: Plan = JSON.parse(readFileSync(join(work, 'plan.json'), 'utf8'));
  const nameOf = (key: string): string => plan.models.find((m) => m.key === key)?.name ?? key;
  const lines = [
    `# GPU check ${new Date().toISOString()}${plan.small ? ' (--small: stand-in shapes, not figures)' : ''}`,
    '',
    `GPU: ${ortResult.gpu}; ONNX Runtime ${ortResult.onnxruntime}, Node ${ortResult.node}; PyTorch ${torch.torch ?? '-'} on ${torch.device ?? '-'}. Random weights; batches of at most ${plan.batch_tokens} padded tokens, the same on both sides.`,
    '',
    '## Numerics against the CPU (fp32)',
    '',
    '| model | provider | precision | tokens | max abs diff | min cosine |',
    '| --- | --- | --- | ---: | ---: | ---: |',
    ...ortResult.numerics.map((r: NumericsRow) =>
      r.error ? `| ${r.model} | ${r.provider} | ${r.precision} | - | failed: ${r.error} | - |` : `| ${r.model} | ${r.provider} | ${r.precision} | ${r.tokens} | ${r.max_abs_diff?.toExponential(2)} | ${fmt(r.min_cosine, 6)} |`,
    ),
    '',
    '## Throughput (tokens/s, best pass; same shapes and batches)',
    '',
    '| model | precision | provider | tokens | session open s | first pass s | tokens/s | PyTorch tokens/s | ratio to PyTorch |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...ortResult.throughput.map((r: ThroughputRow) => {
      const t = torch.results.find((x: { model: string; precision: string }) => nameOf(x.model) === r.model && x.precision === r.precision);
      const ratio = r.tokens_per_s && t ? `${(r.tokens_per_s / t.tokens_per_s).toFixed(2)}` : '-';
      return r.error
        ? `| ${r.model} | ${r.precision} | ${r.provider} | ${r.tokens} | - | - | ${r.error} | ${fmt(t?.tokens_per_s)} | - |`
        : `| ${r.model} | ${r.precision} | ${r.provider} | ${r.tokens} | ${fmt(r.open_s, 1)} | ${fmt(r.first_s, 2)} | ${fmt(r.tokens_per_s)} | ${fmt(t?.tokens_per_s)} | ${ratio} |`;
    }),
    '',
    '## MatMul ceiling',
    '',
    '| side | precision | shape | TFLOP/s |',
    '| --- | --- | --- | ---: |',
    ...ortResult.matmul.map((m: { provider: string; precision: string; shape: string; tflops: number | null; error?: string }) => `| ONNX Runtime ${m.provider} | ${m.precision} | ${m.shape} | ${m.tflops === null ? `failed: ${m.error}` : m.tflops.toPrecision(3)} |`),
    ...torch.matmul.map((m: { precision: string; shape: string; tflops: number }) => `| PyTorch | ${m.precision} | ${m.shape} | ${m.tflops.toPrecision(3)} |`),
    ...(torch.errors?.length ? ['', `PyTorch errors: ${torch.errors.join('; ')}`] : []),
    '',
  ];
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'figures.md'), lines.join('\n'));
  writeFileSync(join(out, 'figures.json'), `${JSON.stringify({ plan: { ...plan, models: plan.models.map(({ lengths, batches, ...m }) => ({ ...m, sequences: lengths.length, batches: batches.length })) }, onnxruntime: ortResult, torch }, null, 2)}\n`);
  console.log(lines.join('\n'));
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  const flag = (name: string): string | undefined => {
    const i = rest.indexOf(name);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  const work = flag('--work');
  if (!work || !['plan', 'run', 'report'].includes(command)) {
    console.error('usage: gpu-check plan|run|report --work DIR [--small] [--budget SECONDS] [--out DIR]');
    process.exit(2);
  }
  mkdirSync(work, { recursive: true });
  if (command === 'plan') {
    writeFileSync(join(work, 'plan.json'), `${JSON.stringify(makePlan(rest.includes('--small')), null, 1)}\n`);
  } else if (command === 'run') {
    await run(JSON.parse(readFileSync(join(work, 'plan.json'), 'utf8')), work, Number(flag('--budget') ?? 300));
  } else {
    report(work, flag('--out') ?? work);
  }
}

await main();
