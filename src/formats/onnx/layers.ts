/**
 * Neural-network building blocks shared by the model graph builders
 * (src/models/esm2.ts, dnabert.ts, classifier.ts): importing a named weight
 * from a TensorMap, Linear, LayerNorm, erf-GELU, softmax. Each block is
 * written once so the three models compute them identically.
 *
 * Precision: `compute` is the dtype weights are stored in and matrix products
 * run in. With float16, LayerNorm and softmax still run in float32 (the values
 * are cast around them): their sums lose too much in half precision.
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

  /** A float scalar constant in the compute dtype. */
  scalar(value: number): string {
    return this.g.scalar(value, this.compute);
  }

  cast(x: string, to: ComputeType): string {
    return this.g.node('Cast', [x], { to: OnnxDataType[to] });
  }

  /** y = x W^T + b on a 2-D input [N, in] (torch.nn.Linear); W stays [out, in] as stored. */
  linear(x: string, prefix: string, inDim: number, outDim: number, opts: { bias?: boolean } = {}): string {
    const w = this.param(`${prefix}.weight`, [outDim, inDim]);
    const inputs = [x, w];
    if (opts.bias !== false) inputs.push(this.param(`${prefix}.bias`, [outDim]));
    return this.g.node('Gemm', inputs, { transB: 1 });
  }

  /** LayerNorm over the last axis with the checkpoint's eps (always computed in float32). */
  layerNorm(x: string, prefix: string, dim: number, eps: number): string {
    const w = this.param(`${prefix}.weight`, [dim], 'float32');
    const b = this.param(`${prefix}.bias`, [dim], 'float32');
    const x32 = this.compute === 'float32' ? x : this.cast(x, 'float32');
    const y = this.g.node('LayerNormalization', [x32, w, b], { axis: -1, epsilon: float(eps) });
    return this.compute === 'float32' ? y : this.cast(y, this.compute);
  }

  /** Exact (erf) GELU: x * 0.5 * (1 + erf(x / sqrt(2))), as torch.nn.functional.gelu. */
  gelu(x: string): string {
    const g = this.g;
    const e = g.node('Erf', [g.node('Div', [x, this.scalar(Math.SQRT2)])]);
    return g.node('Mul', [g.node('Mul', [x, this.scalar(0.5)]), g.node('Add', [e, this.scalar(1)])]);
  }

  /** Softmax over the last axis, in float32; returns the compute dtype. */
  softmax(x: string): string {
    if (this.compute === 'float32') return this.g.node('Softmax', [x], { axis: -1 });
    return this.cast(this.g.node('Softmax', [this.cast(x, 'float32')], { axis: -1 }), this.compute);
  }
}

/** A tensor's bytes in `to` (float32 or float16), converting from any stored float dtype. */
export async function convertedBytes(t: LazyTensor, to: ComputeType): Promise<Uint8Array> {
  const raw = await t.bytes();
  if (t.dtype === to) return raw;
  const f32 = toFloat32(t.dtype, raw);
  return to === 'float32' ? new Uint8Array(f32.buffer) : float32ToFloat16(f32);
}

/** Multi-head attention plumbing shared by the encoders (activations kept 2-D [B*T, E] between layers). */
export class HeadLayout {
  /** Shape [B, T, heads, headDim] and [-1, E] constants for Reshape. */
  private readonly splitShape: string;
  private readonly mergeShape: string;

  constructor(
    private readonly g: GraphBuilder,
    /** Shape(input_ids): [B, T] as int64. */
    batchTimeShape: string,
    readonly heads: number,
    readonly headDim: number,
  ) {
    this.splitShape = g.node('Concat', [batchTimeShape, g.ints([heads, headDim])], { axis: 0 });
    this.mergeShape = g.ints([-1, heads * headDim]);
  }

  /** [B*T, E] -> [B, heads, T, headDim]. */
  split(x: string): string {
    return this.g.node('Transpose', [this.g.node('Reshape', [x, this.splitShape])], { perm: [0, 2, 1, 3] });
  }

  /** [B, heads, T, headDim] -> [B*T, E]. */
  merge(x: string): string {
    return this.g.node('Reshape', [this.g.node('Transpose', [x], { perm: [0, 2, 1, 3] }), this.mergeShape]);
  }
}

/**
 * softmax(q k^T / divisor + bias) v for q, k, v [B, heads, T, d] and an additive
 * bias broadcastable to [B, heads, T, T] (padding mask, ALiBi). `divisor`
 * undefined means q was already scaled (fair-esm scales q before rotary).
 */
export function attention(nn: LayerBuilder, q: string, k: string, v: string, bias: string, divisor?: number): string {
  const g = nn.g;
  let scores = g.node('MatMul', [q, g.node('Transpose', [k], { perm: [0, 1, 3, 2] })]);
  if (divisor !== undefined) scores = g.node('Div', [scores, nn.scalar(divisor)]);
  const probs = nn.softmax(g.node('Add', [scores, bias]));
  return g.node('MatMul', [probs, v]);
}

/** Additive key-padding bias [B, 1, 1, T]: 0 for real keys, MASKED_SCORE for padding (`keep` is 1/0 in any numeric type). */
export function keyPaddingBias(nn: LayerBuilder, keep: string): string {
  const g = nn.g;
  // Built in float32 then cast: in float16 MASKED_SCORE is -inf, and 0 * -inf would be NaN.
  const keepF = nn.cast(keep, 'float32');
  let bias = g.node('Mul', [g.node('Sub', [g.scalar(1), keepF]), g.scalar(MASKED_SCORE)]);
  if (nn.compute !== 'float32') bias = nn.cast(bias, nn.compute);
  return g.node('Unsqueeze', [bias, g.ints([1, 2])]);
}

/**
 * Score given to padded keys. exp(MASKED_SCORE - max) is exactly 0 in float32,
 * so padding never changes a result; finite (unlike -inf) so a row can never
 * turn into NaN. In float16 it becomes -inf, which softmax (run in float32) also maps to 0.
 */
export const MASKED_SCORE = -1e9;

/**
 * Masked mean over the time axis, accumulated in float64 (the reference sums in
 * float32 with pairwise/vectorised order; float64 keeps us within ~1e-7 of it
 * whatever the length). x [B, T, E] (any float type), weights [B, T] 0/1 (any numeric type) -> [B, E] float32.
 */
export function maskedMean(g: GraphBuilder, x: string, weights: string): string {
  const x64 = g.node('Cast', [x], { to: OnnxDataType.float64 });
  const w64 = g.node('Cast', [weights], { to: OnnxDataType.float64 });
  const sum = g.node('ReduceSum', [g.node('Mul', [x64, g.node('Unsqueeze', [w64, g.ints([2])])]), g.ints([1])], { keepdims: 0 });
  const count = g.node('ReduceSum', [w64, g.ints([1])], { keepdims: 1 });
  return g.node('Cast', [g.node('Div', [sum, count])], { to: OnnxDataType.float32 });
}
