/**
 * The ops ONNX Runtime's CUDA execution provider implements, and a check that
 * a graph stays inside them. A node with no CUDA kernel for its opset and
 * element type does not fail: ONNX Runtime quietly runs it on the CPU and
 * copies its inputs and outputs across PCIe, which on an encoder costs more
 * than the node itself. This table is how the graphs are kept CUDA-ready
 * without a GPU here (test/runtime/cuda-ops.test.ts checks every graph we build).
 *
 * Source: ONNX Runtime's kernel registrations, onnxruntime/core/providers/cuda/
 * cuda_execution_provider.cc (ai.onnx) and onnxruntime/contrib_ops/cuda/
 * cuda_contrib_kernels.cc (com.microsoft, plus LayerNormalization opset 1-16
 * and SimplifiedLayerNormalization), as listed per opset range and type in the
 * table generated from them, docs/OperatorKernels.md ("Operators implemented
 * by CUDAExecutionProvider"), read for ONNX Runtime 1.2x-1.30 in November 2026.
 * Where the two sources differ (MultiHeadAttention: bfloat16 in the generated
 * table, float and MLFloat16 in the .cc registrations read), the smaller set is
 * kept. Only ops a transformer encoder plausibly uses are listed, from opset 13
 * on; an op missing here is reported, never assumed to be on the GPU.
 */
import type { GraphBuilder } from '../formats/onnx/graph.js';
import { OnnxDataType } from '../formats/onnx/proto.js';

interface Kernel {
  /** Opset range [since, until] (until undefined: open). */
  since: number;
  until?: number;
  /** Element types of the checked input (TypeConstraint T; Where: its X, Cast: its input). */
  types: readonly string[];
}

const INTS = ['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64'];
const F = ['float32', 'float64', 'float16'];
const FB = [...F, 'bfloat16'];
const ALL = [...FB, 'bool', ...INTS];
const ORDERED = [...F, 'int32', 'int64', 'uint32', 'uint64'];
const ARITH13 = [...FB, 'int32', 'int64', 'uint32', 'uint64'];
const k = (since: number, until: number | undefined, types: readonly string[]): Kernel => ({ since, until, types });

/** Keyed `op` (ai.onnx) or `domain:op`. */
export const CUDA_KERNELS: Readonly<Record<string, readonly Kernel[]>> = {
  Abs: [k(13, undefined, [...FB, ...INTS])],
  Add: [k(14, undefined, [...FB, ...INTS]), k(13, 13, ARITH13)],
  Sub: [k(14, undefined, [...FB, ...INTS]), k(13, 13, ARITH13)],
  Mul: [k(14, undefined, [...FB, ...INTS]), k(13, 13, ARITH13)],
  Div: [k(14, undefined, [...FB, ...INTS]), k(13, 13, ARITH13)],
  And: [k(7, undefined, ['bool'])],
  Or: [k(7, undefined, ['bool'])],
  Not: [k(1, undefined, ['bool'])],
  BatchNormalization: [k(15, undefined, F), k(14, 14, F), k(9, 13, F)],
  Cast: [k(23, undefined, ALL), k(21, 22, ALL), k(19, 20, ALL), k(13, 18, ALL)],
  Concat: [k(13, undefined, ALL)],
  ConstantOfShape: [k(9, undefined, ['int64'])],
  Cos: [k(7, undefined, F)],
  Sin: [k(7, undefined, F)],
  Equal: [k(13, undefined, ['bool', ...ORDERED])],
  Erf: [k(13, undefined, FB)],
  Exp: [k(13, undefined, FB)],
  Expand: [k(13, undefined, ALL)],
  Gather: [k(13, undefined, ALL)],
  Gelu: [k(20, undefined, FB)],
  Gemm: [k(13, undefined, FB)],
  Greater: [k(13, undefined, ORDERED)],
  Less: [k(13, undefined, ORDERED)],
  GreaterOrEqual: [k(16, undefined, ORDERED), k(12, 15, ORDERED)],
  LessOrEqual: [k(16, undefined, ORDERED), k(12, 15, ORDERED)],
  Identity: [k(19, undefined, ALL), k(14, 18, ALL), k(13, 13, ALL)],
  // Opsets 1-16 (a contrib op then) are registered in cuda_contrib_kernels.cc under kOnnxDomain.
  LayerNormalization: [k(17, undefined, FB), k(1, 16, FB)],
  SimplifiedLayerNormalization: [k(1, undefined, FB)],
  MatMul: [k(13, undefined, FB)],
  Max: [k(13, undefined, ARITH13)],
  Min: [k(13, undefined, ARITH13)],
  Mod: [k(13, undefined, ARITH13)],
  Neg: [k(13, undefined, [...FB, 'int8', 'int16', 'int32', 'int64'])],
  Pad: [k(18, undefined, ['bool', ...F]), k(13, 17, ['bool', ...F])],
  Pow: [k(15, undefined, [...FB, 'int32', 'int64'])],
  Range: [k(11, undefined, ['float64', 'float32', 'int16', 'int32', 'int64'])],
  ReduceMax: [k(18, undefined, [...F, 'int32', 'int64'])],
  ReduceMean: [k(18, undefined, [...F, 'int32']), k(1, 17, [...F, 'int32'])],
  ReduceSum: [k(13, undefined, [...FB, 'int32', 'int64'])],
  Relu: [k(14, undefined, FB), k(13, 13, FB)],
  Reshape: [k(23, undefined, ALL), k(21, 22, ALL), k(19, 20, ALL), k(14, 18, ALL), k(13, 13, ALL)],
  Shape: [k(23, undefined, ALL), k(21, 22, ALL), k(19, 20, ALL), k(15, 18, ALL), k(13, 14, ALL)],
  Sigmoid: [k(13, undefined, FB)],
  Slice: [k(13, undefined, ALL)],
  Softmax: [k(13, undefined, FB)],
  Split: [k(18, undefined, ALL), k(13, 17, ALL)],
  Sqrt: [k(13, undefined, FB)],
  Squeeze: [k(23, undefined, ALL), k(21, 22, ALL), k(13, 20, ALL)],
  Tanh: [k(13, undefined, FB)],
  Tile: [k(13, undefined, [...FB, 'int32', 'int64'])],
  Transpose: [k(23, undefined, ALL), k(21, 22, ALL), k(13, 20, ALL)],
  Trilu: [k(14, undefined, ALL)],
  Unsqueeze: [k(23, undefined, ALL), k(21, 22, ALL), k(13, 20, ALL)],
  Where: [k(16, undefined, ['bfloat16', ...F, 'int32', 'int64', 'uint8']), k(9, 15, [...F, 'int32', 'int64', 'uint8'])],
  Attention: [k(23, undefined, ['bfloat16', 'float32', 'float16'])],
  RotaryEmbedding: [k(23, undefined, ['bfloat16', 'float32', 'float16'])],
  RMSNormalization: [k(23, undefined, FB)],
  // com.microsoft (contrib_ops/cuda/cuda_contrib_kernels.cc)
  'com.microsoft:Attention': [k(1, undefined, ['float32', 'float16'])],
  'com.microsoft:MultiHeadAttention': [k(1, undefined, ['float32', 'float16'])],
  'com.microsoft:RotaryEmbedding': [k(1, undefined, ['float32', 'float16', 'bfloat16'])],
  'com.microsoft:SkipLayerNormalization': [k(1, undefined, ['float32', 'float16'])],
  'com.microsoft:SkipSimplifiedLayerNormalization': [k(1, undefined, ['float32', 'float16'])],
  'com.microsoft:Gelu': [k(1, undefined, F)],
  'com.microsoft:FastGelu': [k(1, undefined, ['float32', 'float16', 'bfloat16'])],
  'com.microsoft:BiasGelu': [k(1, undefined, FB)],
  'com.microsoft:BiasAdd': [k(1, undefined, ['float32', 'float16'])],
  'com.microsoft:FusedMatMul': [k(1, undefined, FB)],
  'com.microsoft:QuickGelu': [k(1, undefined, F)],
};

/** Ops whose output is bool whatever their input. */
const BOOL_OUT = new Set(['Equal', 'Not', 'And', 'Or', 'Xor', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'IsNaN', 'IsInf']);
const TYPE_NAME = new Map<number, string>(Object.entries(OnnxDataType).map(([name, code]) => [code, name]));

/** Element type of every value of the graph (inputs, weights, constants, node outputs). */
export function elementTypes(g: GraphBuilder): Map<string, string> {
  const types = new Map<string, string>();
  for (const v of [...g.inputs, ...g.weights, ...g.constants]) types.set(v.name, v.elemType);
  for (const n of g.nodes) {
    let t: string | undefined;
    if (n.domain === '' && n.opType === 'Cast') t = TYPE_NAME.get(n.attributes.to as number);
    else if (n.domain === '' && n.opType === 'Shape') t = 'int64';
    else if (n.domain === '' && BOOL_OUT.has(n.opType)) t = 'bool';
    else t = types.get(n.inputs[checkedInput(n.domain, n.opType)]);
    for (const o of n.outputs) if (t) types.set(o, t);
  }
  return types;
}

/** The input whose type selects the kernel (Where's condition is always bool: its X decides). */
function checkedInput(domain: string, op: string): number {
  return domain === '' && op === 'Where' ? 1 : 0;
}

/** An op of a graph: domain ('' = ai.onnx), type, the graph's opset for that domain, and the checked input's element type. */
export interface OpUse {
  domain: string;
  opType: string;
  opset: number;
  elemType: string;
}

/** Every distinct (domain, op, opset, element type) a graph uses. */
export function opsOf(g: GraphBuilder): OpUse[] {
  const types = elementTypes(g);
  const seen = new Map<string, OpUse>();
  for (const n of g.nodes) {
    const use = { domain: n.domain, opType: n.opType, opset: g.opsets.get(n.domain) ?? 1, elemType: types.get(n.inputs[checkedInput(n.domain, n.opType)]) ?? 'unknown' };
    seen.set(`${use.domain}:${use.opType}:${use.elemType}`, use);
  }
  return [...seen.values()].sort((a, b) => `${a.domain}:${a.opType}`.localeCompare(`${b.domain}:${b.opType}`));
}

/** The op uses that would not run on the CUDA provider, each with why. */
export function cudaGaps(g: GraphBuilder): Array<OpUse & { reason: string }> {
  const gaps: Array<OpUse & { reason: string }> = [];
  for (const use of opsOf(g)) {
    const kernels = CUDA_KERNELS[use.domain === '' ? use.opType : `${use.domain}:${use.opType}`];
    const kernel = kernels?.find((kn) => use.opset >= kn.since && (kn.until === undefined || use.opset <= kn.until));
    if (!kernels) gaps.push({ ...use, reason: 'no CUDA kernel' });
    else if (!kernel) gaps.push({ ...use, reason: `no CUDA kernel for opset ${use.opset}` });
    else if (!kernel.types.includes(use.elemType)) gaps.push({ ...use, reason: `the CUDA kernel does not take ${use.elemType}` });
  }
  return gaps;
}
