/**
 * Checkpoints with the shapes of real models and cheap deterministic contents,
 * for the benchmarks that need multi-GB files (`models info`, `models prepare`).
 * Tensors are lazy: their bytes are made on demand, one tensor at a time, so the
 * generator itself never holds the checkpoint.
 */
import type { LazyTensor, TensorMap } from '../../src/formats/tensor.js';
import { canonicalToFairEsm, esm2Schema } from '../../src/models/schema.js';
import { ESM_PAD_IDX } from '../../src/models/tokenizers/esm.js';

/** A tensor of small deterministic values (fp16 or fp32), made on demand (never cached). */
export function patternTensor(shape: number[], seed: number, dtype: 'float16' | 'float32'): LazyTensor {
  return {
    dtype,
    shape,
    bytes: async () => {
      const n = shape.reduce((a, b) => a * b, 1);
      if (dtype === 'float16') {
        const out = new Uint16Array(n);
        for (let i = 0; i < n; i++) out[i] = 0x2000 + ((i * 2654435761 + seed) >>> 20) % 0x0800;
        return new Uint8Array(out.buffer);
      }
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = ((((i * 2654435761 + seed) >>> 12) & 0xffff) - 0x8000) / 0x80000;
      return new Uint8Array(out.buffer);
    },
  };
}

/** fair-esm ESM-2 state_dict from the ESM-2 schema (names as in the real checkpoint, lm_head sharing embed_tokens). */
export function esm2FairEsmState(layers: number, E: number, F: number, V: number, heads: number, dtype: 'float16' | 'float32'): TensorMap {
  const made = new Map<string, LazyTensor>();
  let seed = 1;
  for (const spec of esm2Schema({ numLayers: layers, embedDim: E, ffnDim: F, vocabSize: V, numHeads: heads, padIdx: ESM_PAD_IDX })) {
    made.set(spec.name, spec.role === 'tied' ? made.get(spec.tiedTo!)! : patternTensor([...spec.shape], seed++, dtype));
  }
  return new Map([...made].map(([name, t]) => [canonicalToFairEsm(name), t]));
}
