/**
 * A small, deterministic ONNX graph builder. Model builders (src/models/*.ts)
 * describe their computation with it; writer.ts turns it into a `.onnx` file
 * whose weights live in an external-data side file.
 *
 * Determinism: node and value names come from a counter in call order, and
 * weights are written in the order they were declared, so the same model and
 * options always give byte-identical files.
 */
import { OnnxDataType } from './proto.js';

export type ElemType = keyof typeof OnnxDataType;

/** A float attribute (plain numbers are written as INT attributes). */
export interface FloatAttr {
  readonly float: number;
}
export type AttrValue = number | number[] | string | FloatAttr | { readonly floats: number[] };

/** Marks a number as a FLOAT attribute: `{ epsilon: float(1e-5) }`. */
export function float(x: number): FloatAttr {
  return { float: x };
}

export interface NodeSpec {
  opType: string;
  domain: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, AttrValue>;
}

export interface ValueSpec {
  name: string;
  elemType: ElemType;
  /** Dimension sizes or symbolic names; undefined = rank unknown (no shape written). */
  dims?: Array<number | string>;
}

/** A tensor stored in the external-data file; `bytes` already holds `elemType` little-endian data. */
export interface WeightSpec {
  name: string;
  elemType: ElemType;
  dims: number[];
  bytes: () => Promise<Uint8Array>;
}

/** A small tensor stored inline in the model (shapes, scalars, axes). */
export interface ConstantSpec {
  name: string;
  elemType: ElemType;
  dims: number[];
  raw: Uint8Array;
}

export class GraphBuilder {
  readonly name: string;
  readonly nodes: NodeSpec[] = [];
  readonly inputs: ValueSpec[] = [];
  readonly outputs: ValueSpec[] = [];
  readonly weights: WeightSpec[] = [];
  readonly constants: ConstantSpec[] = [];
  /** Opset versions by domain ('' = ai.onnx). */
  readonly opsets = new Map<string, number>();
  readonly metadata = new Map<string, string>();
  private counter = 0;
  private readonly constCache = new Map<string, string>();
  private readonly names = new Set<string>();

  constructor(name: string, opset: number) {
    this.name = name;
    this.opsets.set('', opset);
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`graph ${this.name}: value name '${name}' used twice`);
    this.names.add(name);
    return name;
  }

  input(name: string, elemType: ElemType, dims?: Array<number | string>): string {
    this.inputs.push({ name: this.claim(name), elemType, dims });
    return name;
  }

  /** Declares `value` as a graph output named `name` (an Identity node renames it when needed). */
  output(value: string, name: string, elemType: ElemType, dims?: Array<number | string>): void {
    if (value !== name) this.node('Identity', [value], {}, { outputName: name });
    this.outputs.push({ name, elemType, dims });
  }

  /** Adds one node with one output and returns the output's name. */
  node(opType: string, inputs: string[], attributes: Record<string, AttrValue> = {}, opts: { domain?: string; outputName?: string } = {}): string {
    return this.nodeMulti(opType, inputs, 1, attributes, opts)[0];
  }

  /** Adds one node with `numOutputs` outputs. */
  nodeMulti(
    opType: string,
    inputs: string[],
    numOutputs: number,
    attributes: Record<string, AttrValue> = {},
    opts: { domain?: string; outputName?: string } = {},
  ): string[] {
    const id = this.counter++;
    const base = `${opType}_${id}`;
    const outputs = Array.from({ length: numOutputs }, (_, k) =>
      this.claim(k === 0 && opts.outputName ? opts.outputName : numOutputs === 1 ? base : `${base}_out${k}`),
    );
    const domain = opts.domain ?? '';
    if (domain !== '' && !this.opsets.has(domain)) this.opsets.set(domain, 1);
    this.nodes.push({ opType, domain, name: base, inputs, outputs, attributes });
    return outputs;
  }

  /** A weight tensor streamed into the external-data file. */
  weight(name: string, elemType: ElemType, dims: readonly number[], bytes: () => Promise<Uint8Array>): string {
    this.weights.push({ name: this.claim(name), elemType, dims: [...dims], bytes });
    return name;
  }

  /** A small inline constant (deduplicated by value), e.g. a shape or an axis list. */
  constant(elemType: 'int64' | 'float32' | 'float16', dims: number[], values: readonly number[]): string {
    const key = `${elemType}|${dims.join(',')}|${values.join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    let raw: Uint8Array;
    if (elemType === 'int64') raw = new Uint8Array(BigInt64Array.from(values.map((v) => BigInt(v))).buffer);
    else if (elemType === 'float32') raw = new Uint8Array(Float32Array.from(values).buffer);
    else raw = new Uint8Array(Uint16Array.from(values.map(float32ToFloat16Bits)).buffer);
    const name = this.claim(`const_${this.constants.length}`);
    this.constants.push({ name, elemType, dims, raw });
    this.constCache.set(key, name);
    return name;
  }

  /** 1-D int64 constant (shapes, axes, split sizes). */
  ints(values: readonly number[]): string {
    return this.constant('int64', [values.length], values);
  }

  /** Scalar constant of the given float type. */
  scalar(value: number, elemType: 'float32' | 'float16' = 'float32'): string {
    return this.constant(elemType, [], [value]);
  }
}

/** float32 -> IEEE half bits, round to nearest even (as numpy/torch `.half()`). */
export function float32ToFloat16Bits(value: number): number {
  scratchF32[0] = value;
  return halfBitsFromFloat32Bits(scratchU32[0]);
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

function halfBitsFromFloat32Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> signed zero
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && (m & 1))) m++;
    return sign | m;
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1))) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

/** Converts float32 data to IEEE half bytes. */
export function float32ToFloat16(data: Float32Array): Uint8Array {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = halfBitsFromFloat32Bits(bits[i]);
  return new Uint8Array(out.buffer);
}
