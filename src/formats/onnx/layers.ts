/**
 * Neural-network building blocks shared by the model graph builders
 * (src/models/esm2.ts, dnabert.ts, classifier.ts): importing a named weight
 * from a TensorMap, Linear, LayerNorm (alone and after the residual add),
 * erf-GELU, multi-head attention, masked mean pooling. Each block is written
 * once so the three models compute them identically.
 *
 * One graph form for every execution provider (CPU, WebGPU, CUDA): only ops
 * each of them implements, no provider-specific variant.
 *
 * Speed on CPU: matrix products are Gemm on 2-D activations [B*T, E] with the
 * weight kept [out, in] (transB; ONNX Runtime pre-packs constant weights).
 * Attention is written as plain MatMul / Softmax (see SelfAttention for why not
 * the fused MultiHeadAttention kernel); rotary uses com.microsoft
 * RotaryEmbedding. Residual adds are plain Add nodes (residualAdd), and a
 * LayerNorm after one is its own LayerNormalization node (residualLayerNorm),
 * never com.microsoft SkipLayerNormalization: that fused node measured slower
 * on ORT 1.30 CPU (docs/benchmarks.md, "embeddings"), and ORT's CPU optimizer
 * does not fuse the pair either (checked on its optimized graphs). The erf
 * GELU is written as plain ops, which ORT's CPU optimizer turns into its exact
 * Gelu kernel in float32 graphs (never a tanh approximation); in float16
 * graphs the plain ops run as written.
 *
 * Precision: `compute` is the dtype weights are stored in and matrix products
 * run in. With float16, LayerNorm, the residual stream, attention (scores,
 * softmax) and pooling stay in float32 (values are cast around them): their
 * sums lose too much in half precision.
 */
import { InputError } from '../../util/errors.js';
import { toFloat32, type LazyTensor, type TensorMap } from '../tensor.js';
import { GraphBuilder, float, float32ToFloat16 } from './graph.js';
import { OnnxDataType } from './proto.js';

export type ComputeType = 'float32' | 'float16';
export type Precision = 'fp32' | 'fp16';

export function computeTypeOf(p: Precision): ComputeType {
  return p === 'fp16' ? 'float16' : 'float32';
}

export class LayerBuilder {
  constructor(
    readonly g: GraphBuilder,
    private readonly tensors: TensorMap,
    readonly compute: ComputeType,
    /** Where the weights came from, for error messages. */
    private readonly source: string,
  ) {}

  /** Looks up a canonical weight, checks its shape, and returns it (InputError when absent or misshapen). */
  tensor(name: string, shape?: readonly number[]): LazyTensor {
    const t = this.tensors.get(name);
    if (!t) throw new InputError(`${this.source}: weight '${name}' is missing`);
    if (shape && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
      throw new InputError(`${this.source}: weight '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    return t;
  }

  /** Declares weight `name` (streamed into the external-data file in the compute dtype). */
  param(name: string, shape: readonly number[], elemType: ComputeType = this.compute): string {
    const t = this.tensor(name, shape);
    return this.g.weight(name, elemType, t.shape, () => convertedBytes(t, elemType));
  }

  /**
   * Rows [start, start + count) of a 2-D (or 1-D) weight of shape `shape`, declared as its own
   * weight `name#part`: splits a packed projection (DNABERT-S Wqkv, gated_layers) into separate
   * Gemms at build time instead of a Split copy per forward pass.
   */
  paramRows(name: string, shape: readonly number[], start: number, count: number, part: string, elemType: ComputeType = this.compute): string {
    const t = this.tensor(name, shape);
    const rowElems = shape.slice(1).reduce((a, b) => a * b, 1);
    const bytesPer = elemType === 'float32' ? 4 : 2;
    return this.g.weight(`${name}#${part}`, elemType, [count, ...shape.slice(1)], async () =>
      (await convertedBytes(t, elemType)).slice(start * rowElems * bytesPer, (start + count) * rowElems * bytesPer),
    );
  }

  /** A float scalar constant in the compute dtype. */
  scalar(value: number): string {
    return this.g.scalar(value, this.compute);
  }

  cast(x: string, to: ComputeType): string {
    return this.g.node('Cast', [x], { to: OnnxDataType[to] });
  }

  /** A float32 value in the compute dtype (identity in float32). */
  toCompute(x: string): string {
    return this.compute === 'float32' ? x : this.cast(x, this.compute);
  }

  /** A compute-dtype value in float32 (identity in float32). */
  toFloat32(x: string): string {
    return this.compute === 'float32' ? x : this.cast(x, 'float32');
  }

  /** y = x W^T + b on a 2-D input [N, in] (torch.nn.Linear); W stays [out, in] as stored. */
  linear(x: string, prefix: string, inDim: number, outDim: number, opts: { bias?: boolean } = {}): string {
    const w = this.param(`${prefix}.weight`, [outDim, inDim]);
    const inputs = [x, w];
    if (opts.bias !== false) inputs.push(this.param(`${prefix}.bias`, [outDim]));
    return this.g.node('Gemm', inputs, { transB: 1 });
  }

  /**
   * x + skip, the residual add (`x = residual + x` in the references), in float32: the
   * residual stream never rounds to float16. x and skip: [N, dim], float32 or the compute dtype.
   */
  residualAdd(x: string, skip: string): string {
    return this.g.node('Add', [this.toFloat32(x), this.toFloat32(skip)]);
  }

  /**
   * LayerNorm(x + skip) over the last axis, in float32 (a post-LN block: MosaicBERT's
   * BertSelfOutput and BertGatedLinearUnitMLP). Two nodes, Add then LayerNormalization:
   * com.microsoft SkipLayerNormalization computes the same in one node but measured slower
   * here on ORT 1.30 CPU (docs/benchmarks.md), and ORT's CPU optimizer leaves the pair unfused.
   */
  residualLayerNorm(x: string, skip: string, prefix: string, dim: number, eps: number): string {
    return this.layerNorm32(this.residualAdd(x, skip), prefix, dim, eps);
  }

  /** LayerNorm over the last axis with the checkpoint's eps (always computed in float32); returns the compute dtype. */
  layerNorm(x: string, prefix: string, dim: number, eps: number): string {
    return this.toCompute(this.layerNorm32(this.toFloat32(x), prefix, dim, eps));
  }

  /** LayerNorm of a float32 value; returns float32. */
  layerNorm32(x: string, prefix: string, dim: number, eps: number): string {
    const w = this.param(`${prefix}.weight`, [dim], 'float32');
    const b = this.param(`${prefix}.bias`, [dim], 'float32');
    return this.g.node('LayerNormalization', [x, w, b], { axis: -1, epsilon: float(eps) });
  }

  /** Exact (erf) GELU: x * 0.5 * (1 + erf(x / sqrt(2))), as torch.nn.functional.gelu. */
  gelu(x: string): string {
    const g = this.g;
    const e = g.node('Erf', [g.node('Div', [x, this.scalar(Math.SQRT2)])]);
    return g.node('Mul', [g.node('Mul', [x, this.scalar(0.5)]), g.node('Add', [e, this.scalar(1)])]);
  }
}

/** A tensor's bytes in `to` (float32 or float16), converting from any stored float dtype. */
export async function convertedBytes(t: LazyTensor, to: ComputeType): Promise<Uint8Array> {
  const raw = await t.bytes();
  if (t.dtype === to) return raw;
  const f32 = toFloat32(t.dtype, raw);
  return to === 'float32' ? new Uint8Array(f32.buffer) : float32ToFloat16(f32);
}

/** Operator domain of ONNX Runtime's com.microsoft kernels (RotaryEmbedding). */
export const MS_DOMAIN = 'com.microsoft';

/**
 * Score added for padded keys. exp(MASKED_SCORE - max) is exactly 0 in float32,
 * so padding never changes a result; finite (unlike -inf) so a row can never
 * turn into NaN. Attention always runs in float32 (see SelfAttention), so the
 * value need not fit in float16.
 */
export const MASKED_SCORE = -1e9;

/**
 * The additive key-padding bias, [B, 1, 1, T] float32: 0 for a real key, MASKED_SCORE
 * for padding. Built with Where: (1 - keep) * -inf would give 0 * -inf = NaN.
 * `keep`: bool [B, T] (true = real token).
 */
export function keyPaddingBias(g: GraphBuilder, keep: string): string {
  return g.node('Where', [g.node('Unsqueeze', [keep, g.ints([1, 2])]), g.scalar(0), g.scalar(MASKED_SCORE)]);
}

/**
 * Multi-head self-attention on [B, T, E] activations, in float32, with an additive bias
 * (key padding, ALiBi) that the model builds once per forward pass and every layer shares.
 *
 * Written as plain ops: scores = (q k^T) * scale + bias, Softmax, probs v, per head.
 * The fused com.microsoft MultiHeadAttention is not used because:
 *  - ONNX Runtime 1.30's WebGPU MultiHeadAttention gives wrong results from 32 tokens up
 *    on adapters with 8-wide subgroups (Mesa lavapipe: max error 0.05-0.07 on the fixture
 *    embeddings; its flash-attention kernel assumes 16-wide ones), while MatMul/Softmax are
 *    right on every adapter tried; it also has no key_padding_mask;
 *  - on CPU the plain form runs at the same speed: 1-thread CPU seconds on the embed
 *    benchmark's shapes, MultiHeadAttention with key_padding_mask vs this form, best of 5
 *    interleaved runs: ESM-2 8M 0.94 vs 0.95, 35M 3.68 vs 3.68, 150M 14.77 vs 15.11, 3B
 *    layers 6.63 vs 6.43, DNABERT-S 11.51 vs 11.57 (ONNX Runtime folds the scale into the
 *    score MatMul there);
 *  - attention runs in float32 (as fair-esm's softmax), where CUDA's fused kernels fall back
 *    to the same unfused products below 256 tokens (VirNucPro's proteins are 100-170).
 */
export class SelfAttention {
  /** Shape [B, T, E] for Reshape of 2-D [B*T, E] activations. */
  readonly shapeBTE: string;
  /** Shape [B, T, heads, headDim]. */
  private readonly shapeBTHD: string;

  constructor(
    private readonly nn: LayerBuilder,
    /** Shape(input_ids): [B, T] as int64. */
    shapeBT: string,
    /** Additive float32 bias broadcastable to [B, heads, T, T]. */
    private readonly bias: string,
    readonly heads: number,
    readonly embedDim: number,
  ) {
    const g = nn.g;
    this.shapeBTE = g.node('Concat', [shapeBT, g.ints([embedDim])], { axis: 0 });
    this.shapeBTHD = g.node('Concat', [shapeBT, g.ints([heads, embedDim / heads])], { axis: 0 });
  }

  /** [B*T, E] (any float type) -> [B, T, E] float32. */
  toBTE(x: string): string {
    return this.nn.g.node('Reshape', [this.nn.toFloat32(x), this.shapeBTE]);
  }

  /**
   * softmax(scale * q k^T + bias) v per head; q, k, v [B, T, E] float32.
   * Returns [B*T, E] in the compute dtype (ready for the output projection).
   */
  attend(q: string, k: string, v: string, scale: number): string {
    const g = this.nn.g;
    const heads = (x: string, perm: number[]) => g.node('Transpose', [g.node('Reshape', [x, this.shapeBTHD])], { perm });
    const scores = g.node('Mul', [g.node('MatMul', [heads(q, [0, 2, 1, 3]), heads(k, [0, 2, 3, 1])]), g.scalar(scale)]);
    const probs = g.node('Softmax', [g.node('Add', [scores, this.bias])], { axis: -1 });
    const out = g.node('Transpose', [g.node('MatMul', [probs, heads(v, [0, 2, 1, 3])])], { perm: [0, 2, 1, 3] });
    return this.nn.toCompute(g.node('Reshape', [out, g.ints([-1, this.embedDim])]));
  }
}

/** Positions per partial sum in maskedMean (about the square root of the longest inputs). */
const MEAN_BLOCK = 32;

/**
 * Masked mean over the time axis, in float32 on the execution provider (no float64, which
 * WebGPU lacks, and no copy of the hidden states to the host): positions are summed in
 * blocks of MEAN_BLOCK, then the block sums, so rounding grows with MEAN_BLOCK + T / MEAN_BLOCK
 * terms instead of T (a sequential float32 sum drifts by ~1e-5 over 1000 tokens; this stays
 * within 1e-6 of the float32 reference on the fixtures, as the former float64 sum did).
 * x [B, T, E] float32, weights [B, T] bool or 0/1 (any numeric type) -> [B, E] float32.
 */
export function maskedMean(g: GraphBuilder, x: string, weights: string): string {
  const w = g.node('Cast', [weights], { to: OnnxDataType.float32 });
  const masked = g.node('Mul', [x, g.node('Unsqueeze', [w, g.ints([2])])]);
  const shape = g.node('Shape', [x]);
  const dim = (k: number) => g.node('Slice', [shape, g.ints([k]), g.ints([k + 1])]);
  // Pad T up to a multiple of the block with zeros (pads: begins of B, T, E, then ends).
  const block = g.ints([MEAN_BLOCK]);
  const extra = g.node('Mod', [g.node('Sub', [block, g.node('Mod', [dim(1), block])]), block]);
  const padded = g.node('Pad', [masked, g.node('Concat', [g.ints([0, 0, 0, 0]), extra, g.ints([0])], { axis: 0 })]);
  const blocks = g.node('Reshape', [padded, g.node('Concat', [dim(0), g.ints([-1, MEAN_BLOCK]), dim(2)], { axis: 0 })]);
  const sum = g.node('ReduceSum', [g.node('ReduceSum', [blocks, g.ints([2])], { keepdims: 0 }), g.ints([1])], { keepdims: 0 });
  return g.node('Div', [sum, g.node('ReduceSum', [w, g.ints([1])], { keepdims: 1 })]);
}
