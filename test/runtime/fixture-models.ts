/**
 * Fixture models as LoadedModel values built directly from their files, for
 * the graph tests (independent of models/load.ts).
 */
import { readFileSync } from 'node:fs';
import { memoryTensor, type TensorMap } from '../../src/formats/tensor.js';
import { readSafetensors } from '../../src/formats/safetensors.js';
import type { ClassifierConfig, DnabertConfig, LoadedModel } from '../../src/models/config.js';
import { fixture } from '../helpers.js';

export const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  assertSameLength(a, b);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

function assertSameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
}

export function readJson<T = any>(rel: string): T {
  return JSON.parse(readFileSync(fixture(rel), 'utf8')) as T;
}

export function dnabertFromSafetensors(): LoadedModel<DnabertConfig> {
  const path = fixture('dnabert-s/model/model.safetensors');
  const c = readJson('dnabert-s/model/config.json');
  return {
    kind: 'dnabert-s',
    format: 'hf directory (safetensors)',
    config: {
      numLayers: c.num_hidden_layers,
      hiddenSize: c.hidden_size,
      numHeads: c.num_attention_heads,
      intermediateSize: c.intermediate_size,
      vocabSize: c.vocab_size,
      typeVocabSize: c.type_vocab_size,
      layerNormEps: c.layer_norm_eps,
    },
    weights: readSafetensors(path).tensors,
    files: [path],
  };
}

/** The MLP from mlp/expected.json's weights (JSON floats are exact float32 values). */
export function classifierFromJson(): LoadedModel<ClassifierConfig> {
  const e = readJson('mlp/expected.json');
  const weights: TensorMap = new Map();
  for (const [name, v] of Object.entries(e.weights as Record<string, unknown>)) {
    if (!Array.isArray(v)) continue; // num_batches_tracked
    const shape = e.state_dict_keys[name].shape as number[];
    weights.set(name, memoryTensor('float32', shape, Float32Array.from((v as unknown[]).flat(2) as number[])));
  }
  return {
    kind: 'classifier',
    format: 'json',
    config: { inputDim: e.input_dim, hiddenDim: e.hidden_dim, numClasses: e.num_class, bnEps: e.bn_eps },
    weights,
    files: [],
  };
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}
