/**
 * Random-weight encoders with the real models' shapes (ESM-2 8M/35M/150M, DNABERT-S),
 * for the embedding benchmark and profiling. Deterministic (a seeded LCG), so
 * two runs time the same weights and the same inputs.
 */
import { memoryTensor, type TensorMap } from '../src/formats/tensor.js';
import type { DnabertConfig, Esm2Config, LoadedModel } from '../src/models/config.js';

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
const ones = (n: number) => memoryTensor('float32', [n], new Float32Array(n).fill(1));

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

export function esmModel(s: Shape): LoadedModel<Esm2Config> {
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
  const config: Esm2Config = { numLayers: s.layers, embedDim: E, numHeads: s.heads, ffnDim: s.ffn, vocabSize: s.vocab, tokenDropout: true, layerNormEps: 1e-5, padIdx: 1, maskIdx: 32 };
  return { kind: 'esm2', format: 'random', config, weights: w, files: [] };
}

export function dnabertModel(s: Shape): LoadedModel<DnabertConfig> {
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
  const config: DnabertConfig = { numLayers: s.layers, hiddenSize: H, numHeads: s.heads, intermediateSize: s.ffn, vocabSize: s.vocab, typeVocabSize: 2, layerNormEps: 1e-12 };
  return { kind: 'dnabert-s', format: 'random', config, weights: w, files: [] };
}
