/**
 * Plain float64 reference forward passes of ESM-2 and DNABERT-S with
 * VirNucPro's pooling, written from the numerics in test/fixtures/README.md
 * (sections "esm2/" and "dnabert-s/"), independent of the ONNX graph builders.
 * Loops over Float64Array, one sequence at a time, nothing fused or clever:
 * the point is that it is easy to check line by line against the README, and
 * that it reads every size from the config (so it is the oracle for model
 * sizes the fixtures do not cover).
 *
 * Usage: `const embed = await esm2Reference(config, weights); embed(tokens)`
 * (weights are read and converted to float64 once).
 */
import type { DnabertConfig, Esm2Config } from '../../src/models/config.js';
import { readFloat32, type TensorMap } from '../../src/formats/tensor.js';

/** A row-major matrix [rows, cols] of float64. */
interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

function matrix(rows: number, cols: number): Matrix {
  return { rows, cols, data: new Float64Array(rows * cols) };
}

/** Reads a named weight as float64 and checks its shape. */
async function weight(weights: TensorMap, name: string, shape: readonly number[]): Promise<Float64Array> {
  const t = weights.get(name);
  if (!t) throw new Error(`reference: weight '${name}' is missing`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`reference: weight '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
  return Float64Array.from(await readFloat32(t));
}

/** torch.nn.Linear: y = x W^T + b, with W stored [out, in] starting at row `rowStart` (for packed weights). */
function linear(x: Matrix, w: Float64Array, b: Float64Array | null, outDim: number, rowStart = 0): Matrix {
  const inDim = x.cols;
  const y = matrix(x.rows, outDim);
  for (let r = 0; r < x.rows; r++) {
    for (let o = 0; o < outDim; o++) {
      let s = b ? b[rowStart + o] : 0;
      const wOff = (rowStart + o) * inDim;
      for (let i = 0; i < inDim; i++) s += x.data[r * inDim + i] * w[wOff + i];
      y.data[r * outDim + o] = s;
    }
  }
  return y;
}

/** LayerNorm over each row (biased variance, eps inside the square root). */
function layerNorm(x: Matrix, w: Float64Array, b: Float64Array, eps: number): Matrix {
  const y = matrix(x.rows, x.cols);
  for (let r = 0; r < x.rows; r++) {
    let mean = 0;
    for (let c = 0; c < x.cols; c++) mean += x.data[r * x.cols + c];
    mean /= x.cols;
    let variance = 0;
    for (let c = 0; c < x.cols; c++) variance += (x.data[r * x.cols + c] - mean) ** 2;
    variance /= x.cols;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let c = 0; c < x.cols; c++) y.data[r * x.cols + c] = (x.data[r * x.cols + c] - mean) * inv * w[c] + b[c];
  }
  return y;
}

function add(a: Matrix, b: Matrix): Matrix {
  const y = matrix(a.rows, a.cols);
  for (let i = 0; i < y.data.length; i++) y.data[i] = a.data[i] + b.data[i];
  return y;
}

/** erf by Abramowitz-Stegun is too coarse (1.5e-7); this series/continued-fraction pair is good to ~1e-15. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series: erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + 2/(x + ...))))) (Lentz-free, fixed depth)
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/** Exact GELU: x * 0.5 * (1 + erf(x / sqrt 2)). */
function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/**
 * Multi-head attention of one sequence: q, k, v [T, E] (heads are column blocks of E/heads),
 * softmax(scale * q k^T + bias(h, i, j)) v, keys with keep[j] false left out.
 */
function attention(
  q: Matrix,
  k: Matrix,
  v: Matrix,
  heads: number,
  scale: number,
  keep: readonly boolean[],
  bias: (h: number, i: number, j: number) => number = () => 0,
): Matrix {
  const T = q.rows;
  const E = q.cols;
  const d = E / heads;
  const out = matrix(T, E);
  const scores = new Float64Array(T);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < T; i++) {
      let max = -Infinity;
      for (let j = 0; j < T; j++) {
        if (!keep[j]) continue;
        let s = 0;
        for (let c = 0; c < d; c++) s += q.data[i * E + h * d + c] * k.data[j * E + h * d + c];
        scores[j] = s * scale + bias(h, i, j);
        max = Math.max(max, scores[j]);
      }
      let total = 0;
      for (let j = 0; j < T; j++) {
        scores[j] = keep[j] ? Math.exp(scores[j] - max) : 0;
        total += scores[j];
      }
      for (let j = 0; j < T; j++) {
        const p = scores[j] / total;
        if (p === 0) continue;
        for (let c = 0; c < d; c++) out.data[i * E + h * d + c] += p * v.data[j * E + h * d + c];
      }
    }
  }
  return out;
}

/** Mean of rows [from, to) of x. */
function meanRows(x: Matrix, from: number, to: number): Float64Array {
  const out = new Float64Array(x.cols);
  for (let r = from; r < to; r++) for (let c = 0; c < x.cols; c++) out[c] += x.data[r * x.cols + c];
  for (let c = 0; c < x.cols; c++) out[c] /= to - from;
  return out;
}

// ---------------------------------------------------------------------------
// ESM-2

/** VirNucPro averages residues 1..min(1024, len) (units.extract_esm). */
const ESM_MEAN_WINDOW = 1024;

/**
 * fair-esm rotary embedding (rotate-half / NeoX form) of one head block, in place:
 * x' = x * cos + rotate_half(x) * sin, with cos/sin of t * inv_freq duplicated over both halves
 * and rotate_half([x1, x2]) = [-x2, x1].
 */
function applyRotary(x: Matrix, heads: number, invFreq: Float64Array): void {
  const d = x.cols / heads;
  const half = d / 2;
  for (let t = 0; t < x.rows; t++) {
    for (let h = 0; h < heads; h++) {
      const base = t * x.cols + h * d;
      for (let c = 0; c < half; c++) {
        const angle = t * invFreq[c];
        const cos = Math.cos(angle);
        const sin = Math.sin(angle);
        const x1 = x.data[base + c];
        const x2 = x.data[base + half + c];
        x.data[base + c] = x1 * cos - x2 * sin;
        x.data[base + half + c] = x2 * cos + x1 * sin;
      }
    }
  }
}

/**
 * ESM-2 reference: returns a function from one token sequence (<cls> residues <eos>, optionally
 * right-padded with padIdx) to VirNucPro's mean embedding [embedDim] (float64).
 */
export async function esm2Reference(config: Esm2Config, weights: TensorMap): Promise<(tokens: ArrayLike<number>) => Float64Array> {
  const { numLayers: L, embedDim: E, numHeads: nh, ffnDim: F, vocabSize: V, layerNormEps: eps } = config;
  const d = E / nh;
  const w = (name: string, shape: number[]) => weight(weights, name, shape);
  const embed = await w('embed_tokens.weight', [V, E]);
  const esmLayer = async (i: number) => {
    const p = `layers.${i}`;
    return {
      ln1: [await w(`${p}.self_attn_layer_norm.weight`, [E]), await w(`${p}.self_attn_layer_norm.bias`, [E])] as const,
      q: [await w(`${p}.self_attn.q_proj.weight`, [E, E]), await w(`${p}.self_attn.q_proj.bias`, [E])] as const,
      k: [await w(`${p}.self_attn.k_proj.weight`, [E, E]), await w(`${p}.self_attn.k_proj.bias`, [E])] as const,
      v: [await w(`${p}.self_attn.v_proj.weight`, [E, E]), await w(`${p}.self_attn.v_proj.bias`, [E])] as const,
      out: [await w(`${p}.self_attn.out_proj.weight`, [E, E]), await w(`${p}.self_attn.out_proj.bias`, [E])] as const,
      invFreq: await w(`${p}.self_attn.rot_emb.inv_freq`, [d / 2]),
      ln2: [await w(`${p}.final_layer_norm.weight`, [E]), await w(`${p}.final_layer_norm.bias`, [E])] as const,
      fc1: [await w(`${p}.fc1.weight`, [F, E]), await w(`${p}.fc1.bias`, [F])] as const,
      fc2: [await w(`${p}.fc2.weight`, [E, F]), await w(`${p}.fc2.bias`, [E])] as const,
    };
  };
  const layers: Awaited<ReturnType<typeof esmLayer>>[] = [];
  for (let i = 0; i < L; i++) layers.push(await esmLayer(i));
  const lnAfter = [await w('emb_layer_norm_after.weight', [E]), await w('emb_layer_norm_after.bias', [E])] as const;

  return (tokens) => {
    const T = tokens.length;
    const keep = Array.from({ length: T }, (_, t) => tokens[t] !== config.padIdx);
    const nonPad = keep.filter(Boolean).length;
    const masks = Array.from(tokens).filter((t) => t === config.maskIdx).length;

    // embeddings; token dropout: <mask> rows zeroed, x * 0.88 / (1 - masks / nonpad); padded rows zeroed
    let x = matrix(T, E);
    const dropoutScale = config.tokenDropout ? (1 - 0.15 * 0.8) / (1 - masks / nonPad) : 1;
    for (let t = 0; t < T; t++) {
      if (!keep[t] || (config.tokenDropout && tokens[t] === config.maskIdx)) continue;
      for (let c = 0; c < E; c++) x.data[t * E + c] = embed[tokens[t] * E + c] * dropoutScale;
    }

    for (const layer of layers) {
      // pre-LN self-attention; q scaled by head_dim^-0.5 before rotary (as fair-esm)
      const h = layerNorm(x, layer.ln1[0], layer.ln1[1], eps);
      const q = linear(h, layer.q[0], layer.q[1], E);
      for (let i = 0; i < q.data.length; i++) q.data[i] *= d ** -0.5;
      const k = linear(h, layer.k[0], layer.k[1], E);
      const v = linear(h, layer.v[0], layer.v[1], E);
      applyRotary(q, nh, layer.invFreq);
      applyRotary(k, nh, layer.invFreq);
      x = add(x, linear(attention(q, k, v, nh, 1, keep), layer.out[0], layer.out[1], E));
      // pre-LN feed-forward with erf GELU
      const f = linear(layerNorm(x, layer.ln2[0], layer.ln2[1], eps), layer.fc1[0], layer.fc1[1], F);
      for (let i = 0; i < f.data.length; i++) f.data[i] = gelu(f.data[i]);
      x = add(x, linear(f, layer.fc2[0], layer.fc2[1], E));
    }
    x = layerNorm(x, lnAfter[0], lnAfter[1], eps);
    const residues = nonPad - 2;
    return meanRows(x, 1, Math.min(ESM_MEAN_WINDOW, residues) + 1);
  };
}

// ---------------------------------------------------------------------------
// DNABERT-S

/**
 * MosaicBERT ALiBi slopes, from the README's rule in closed form: for a power-of-two n,
 * start = 2^(-2^-(log2 n - 3)) = 2^(-8/n), so slope_k = 2^(-8(k+1)/n). Otherwise, with
 * c = 2^floor(log2 n): the c slopes of c heads, then every second slope of the 2c set
 * (slope_k of 2c at k = 0, 2, 4, ...: 2^(-8(k+1)/(2c))), the first n - c of them.
 */
export function referenceAlibiSlopes(n: number): number[] {
  const c = 2 ** Math.floor(Math.log2(n));
  const slopes: number[] = [];
  for (let k = 0; k < c; k++) slopes.push(2 ** ((-8 * (k + 1)) / c));
  for (let k = 0; slopes.length < n; k += 2) slopes.push(2 ** ((-8 * (k + 1)) / (2 * c)));
  return slopes;
}

/**
 * DNABERT-S reference: returns a function from one unpadded id sequence ([CLS] ... [SEP]) to
 * VirNucPro's mean embedding [hiddenSize] (mean over all tokens, [CLS] and [SEP] included).
 */
export async function dnabertReference(config: DnabertConfig, weights: TensorMap): Promise<(ids: ArrayLike<number>) => Float64Array> {
  const { numLayers: L, hiddenSize: H, numHeads: nh, intermediateSize: I, vocabSize: V, typeVocabSize, layerNormEps: eps } = config;
  const w = (name: string, shape: number[]) => weight(weights, name, shape);
  const word = await w('embeddings.word_embeddings.weight', [V, H]);
  const tokenType = await w('embeddings.token_type_embeddings.weight', [typeVocabSize, H]);
  const lnEmb = [await w('embeddings.LayerNorm.weight', [H]), await w('embeddings.LayerNorm.bias', [H])] as const;
  const dnabertLayer = async (i: number) => {
    const p = `encoder.layer.${i}`;
    return {
      qkv: [await w(`${p}.attention.self.Wqkv.weight`, [3 * H, H]), await w(`${p}.attention.self.Wqkv.bias`, [3 * H])] as const,
      dense: [await w(`${p}.attention.output.dense.weight`, [H, H]), await w(`${p}.attention.output.dense.bias`, [H])] as const,
      lnA: [await w(`${p}.attention.output.LayerNorm.weight`, [H]), await w(`${p}.attention.output.LayerNorm.bias`, [H])] as const,
      gated: await w(`${p}.mlp.gated_layers.weight`, [2 * I, H]),
      wo: [await w(`${p}.mlp.wo.weight`, [H, I]), await w(`${p}.mlp.wo.bias`, [H])] as const,
      lnM: [await w(`${p}.mlp.layernorm.weight`, [H]), await w(`${p}.mlp.layernorm.bias`, [H])] as const,
    };
  };
  const layers: Awaited<ReturnType<typeof dnabertLayer>>[] = [];
  for (let i = 0; i < L; i++) layers.push(await dnabertLayer(i));
  const slopes = referenceAlibiSlopes(nh);
  const alibi = (h: number, i: number, j: number) => -slopes[h] * Math.abs(i - j);

  return (ids) => {
    const T = ids.length;
    const keep = new Array<boolean>(T).fill(true);
    // embeddings: LN(word[id] + token_type[0])
    const e = matrix(T, H);
    for (let t = 0; t < T; t++) for (let c = 0; c < H; c++) e.data[t * H + c] = word[ids[t] * H + c] + tokenType[c];
    let x = layerNorm(e, lnEmb[0], lnEmb[1], eps);

    for (const layer of layers) {
      // Wqkv rows: q [0, H), k [H, 2H), v [2H, 3H); post-LN attention with ALiBi
      const q = linear(x, layer.qkv[0], layer.qkv[1], H, 0);
      const k = linear(x, layer.qkv[0], layer.qkv[1], H, H);
      const v = linear(x, layer.qkv[0], layer.qkv[1], H, 2 * H);
      const context = attention(q, k, v, nh, 1 / Math.sqrt(H / nh), keep, alibi);
      x = layerNorm(add(linear(context, layer.dense[0], layer.dense[1], H), x), layer.lnA[0], layer.lnA[1], eps);
      // gated MLP: GELU on the first half of gated_layers(x), times the second half
      const gatedHalf = linear(x, layer.gated, null, I, 0);
      const linearHalf = linear(x, layer.gated, null, I, I);
      for (let i = 0; i < gatedHalf.data.length; i++) gatedHalf.data[i] = gelu(gatedHalf.data[i]) * linearHalf.data[i];
      x = layerNorm(add(linear(gatedHalf, layer.wo[0], layer.wo[1], H), x), layer.lnM[0], layer.lnM[1], eps);
    }
    return meanRows(x, 0, T);
  };
}
