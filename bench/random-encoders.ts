/**
 * Random-weight encoders with the real models' shapes (ESM-2 8M/35M/150M, DNABERT-S),
 * for the embedding benchmark and profiling. Deterministic (a seeded LCG), so
 * two runs time the same weights and the same inputs.
 */
import { memoryTensor, type TensorMap } from '../src/formats/tensor.js';
import type { DnabertConfig, Esm2Config, LoadedModel } from '../src/models/config.js';
import { dnabertSchema, esm2Schema, type ModelSchema } from '../src/models/schema.js';

let seed = 12345;
/** Restarts the generator (each benchmark row starts from its own seed, so rows do not depend on each other). */
export function reseed(value: number): void {
  seed = value;
}
export function rand(): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
}
export function randomTensor(shape: number[], scale: number): ReturnType<typeof memoryTensor> {
  const n = shape.reduce((a, b) => a * b, 1);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
  return memoryTensor('float32', shape, a);
}

export interface Shape {
  name: string;
  layers: number;
  dim: number;
  heads: number;
  ffn: number;
  vocab: number;
  /** Proteins in the benchmark sample (default: about BENCH_TOKENS / 130, halved for wide models). */
  sequences?: number;
}
export const ESM_SHAPES: Shape[] = [
  { name: 'ESM-2 8M shape', layers: 6, dim: 320, heads: 20, ffn: 1280, vocab: 33 },
  { name: 'ESM-2 35M shape', layers: 12, dim: 480, heads: 20, ffn: 1920, vocab: 33 },
  { name: 'ESM-2 150M shape', layers: 30, dim: 640, heads: 20, ffn: 2560, vocab: 33 },
  // The model VirNucPro uses (esm2_t36_3B): its real layer shape, 3 of its 36 layers.
  { name: 'ESM-2 3B shape, 3 of 36 layers', layers: 3, dim: 2560, heads: 40, ffn: 10240, vocab: 33, sequences: 32 },
];
export const DNABERT_SHAPE: Shape = { name: 'DNABERT-S (real shape)', layers: 12, dim: 768, heads: 12, ffn: 3072, vocab: 4096 };

/** Random tensors for the entries VirNucPro reads, scaled so activations stay in range (timing does not depend on the values). */
function randomWeights(schema: ModelSchema): TensorMap {
  const w: TensorMap = new Map();
  for (const spec of schema) {
    if (spec.unused) continue;
    const shape = [...spec.shape];
    const n = shape.reduce((a, b) => a * b, 1);
    switch (spec.role) {
      case 'linear':
        w.set(spec.name, randomTensor(shape, 1 / Math.sqrt(shape[1])));
        break;
      case 'norm-weight':
        w.set(spec.name, memoryTensor('float32', shape, new Float32Array(n).fill(1)));
        break;
      case 'rotary-inv-freq': {
        const hd = 2 * n;
        w.set(spec.name, memoryTensor('float32', shape, Float32Array.from({ length: n }, (_, j) => 1 / 10000 ** ((2 * j) / hd))));
        break;
      }
      default: // embeddings at unit scale; biases and the rest small
        w.set(spec.name, randomTensor(shape, spec.role === 'embedding' ? 1 : 0.01));
    }
  }
  return w;
}

export function esmModel(s: Shape): LoadedModel<Esm2Config> {
  const config: Esm2Config = { numLayers: s.layers, embedDim: s.dim, numHeads: s.heads, ffnDim: s.ffn, vocabSize: s.vocab, tokenDropout: true, layerNormEps: 1e-5, padIdx: 1, maskIdx: 32 };
  return { kind: 'esm2', format: 'random', config, weights: randomWeights(esm2Schema(config)), files: [] };
}

export function dnabertModel(s: Shape): LoadedModel<DnabertConfig> {
  const config: DnabertConfig = { numLayers: s.layers, hiddenSize: s.dim, numHeads: s.heads, intermediateSize: s.ffn, vocabSize: s.vocab, typeVocabSize: 2, layerNormEps: 1e-12 };
  return { kind: 'dnabert-s', format: 'random', config, weights: randomWeights(dnabertSchema(config)), files: [] };
}
