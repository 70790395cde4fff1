/**
 * Checkpoints with the shapes of real models and cheap deterministic contents,
 * for the benchmarks that need multi-GB files (`models info`, `models prepare`).
 * Tensors are lazy: their bytes are made on demand, one tensor at a time, so the
 * generator itself never holds the checkpoint.
 */
import type { LazyTensor, TensorMap } from '../../src/formats/tensor.js';

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

/** fair-esm ESM-2 state_dict (names as in the real checkpoint, lm_head sharing embed_tokens). */
export function esm2FairEsmState(layers: number, E: number, F: number, V: number, heads: number, dtype: 'float16' | 'float32'): TensorMap {
  const m: TensorMap = new Map();
  let seed = 1;
  const add = (name: string, shape: number[]): void => void m.set(`encoder.sentence_encoder.${name}`, patternTensor(shape, seed++, dtype));
  add('embed_tokens.weight', [V, E]);
  for (let i = 0; i < layers; i++) {
    const p = `layers.${i}.`;
    for (const proj of ['k_proj', 'v_proj', 'q_proj', 'out_proj']) {
      add(`${p}self_attn.${proj}.weight`, [E, E]);
      add(`${p}self_attn.${proj}.bias`, [E]);
    }
    add(`${p}self_attn.rot_emb.inv_freq`, [E / heads / 2]);
    for (const ln of ['self_attn_layer_norm', 'final_layer_norm']) {
      add(`${p}${ln}.weight`, [E]);
      add(`${p}${ln}.bias`, [E]);
    }
    add(`${p}fc1.weight`, [F, E]);
    add(`${p}fc1.bias`, [F]);
    add(`${p}fc2.weight`, [E, F]);
    add(`${p}fc2.bias`, [E]);
  }
  add('emb_layer_norm_after.weight', [E]);
  add('emb_layer_norm_after.bias', [E]);
  m.set('encoder.lm_head.weight', m.get('encoder.sentence_encoder.embed_tokens.weight')!);
  return m;
}
