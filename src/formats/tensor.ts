/**
 * The tensor type every weight reader produces (PyTorch zip-pickle,
 * safetensors, ONNX bundles) and every graph builder consumes.
 *
 * Tensors are lazy: they know their dtype and shape up front, and read their
 * bytes from the file only when asked, so a reader can describe an 11 GB
 * checkpoint without holding it in memory.
 */

export type DType =
  | 'float16'
  | 'bfloat16'
  | 'float32'
  | 'float64'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'bool';

export const DTYPE_BYTES: Record<DType, number> = {
  float16: 2,
  bfloat16: 2,
  float32: 4,
  float64: 8,
  int8: 1,
  uint8: 1,
  int16: 2,
  int32: 4,
  int64: 8,
  bool: 1,
};

export interface LazyTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Raw little-endian bytes in row-major (contiguous) order; numel * DTYPE_BYTES[dtype] long. */
  bytes(): Promise<Uint8Array>;
}

/** A named collection of tensors, in the order the file lists them. */
export type TensorMap = Map<string, LazyTensor>;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Decodes an IEEE half to a JS number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Converts a tensor's bytes to float32, whatever the stored floating/integer dtype. */
export function toFloat32(dtype: DType, raw: Uint8Array): Float32Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const n = raw.byteLength / DTYPE_BYTES[dtype];
  const out = new Float32Array(n);
  switch (dtype) {
    case 'float32':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
      break;
    case 'float16':
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      break;
    case 'bfloat16': {
      // bf16 is the top half of a float32.
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      break;
    }
    case 'float64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
      break;
    case 'int64':
      for (let i = 0; i < n; i++) out[i] = Number(view.getBigInt64(i * 8, true));
      break;
    case 'int32':
      for (let i = 0; i < n; i++) out[i] = view.getInt32(i * 4, true);
      break;
    case 'int16':
      for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, true);
      break;
    case 'int8':
      for (let i = 0; i < n; i++) out[i] = view.getInt8(i);
      break;
    case 'uint8':
    case 'bool':
      for (let i = 0; i < n; i++) out[i] = raw[i];
      break;
  }
  return out;
}

/** Reads a tensor and converts it to float32. */
export async function readFloat32(t: LazyTensor): Promise<Float32Array> {
  return toFloat32(t.dtype, await t.bytes());
}

/** A tensor whose bytes are already in memory (tests, generated weights, demo models). */
export function memoryTensor(dtype: DType, shape: readonly number[], data: Uint8Array | Float32Array): LazyTensor {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const expected = numel(shape) * DTYPE_BYTES[dtype];
  if (bytes.byteLength !== expected) {
    throw new Error(`tensor of shape [${shape.join(', ')}] ${dtype} needs ${expected} bytes, got ${bytes.byteLength}`);
  }
  return { dtype, shape: [...shape], bytes: async () => bytes };
}
