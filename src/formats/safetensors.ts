/**
 * safetensors reader: an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {...}}`,
 * then the tensor bytes. Tensors are read lazily from the file.
 */
import { open } from 'node:fs/promises';
import { openSync, readSync, fstatSync, closeSync } from 'node:fs';
import { InputError } from '../util/errors.js';
import { DTYPE_BYTES, numel, type DType, type LazyTensor, type TensorMap } from './tensor.js';

const DTYPES: Record<string, DType> = {
  F16: 'float16',
  BF16: 'bfloat16',
  F32: 'float32',
  F64: 'float64',
  I8: 'int8',
  U8: 'uint8',
  I16: 'int16',
  I32: 'int32',
  I64: 'int64',
  BOOL: 'bool',
};

/** Refuse absurd headers before parsing them (the format caps them at 100 MB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface SafetensorsFile {
  path: string;
  metadata: Record<string, string>;
  tensors: TensorMap;
}

export function readSafetensors(path: string): SafetensorsFile {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new InputError(`${path}: cannot open: ${(e as Error).message}`);
  }
  let header: Record<string, unknown>;
  let dataStart: number;
  let fileSize: number;
  try {
    fileSize = fstatSync(fd).size;
    if (fileSize < 8) throw new InputError(`${path}: not a safetensors file (only ${fileSize} bytes)`);
    const lenBuf = Buffer.alloc(8);
    readSync(fd, lenBuf, 0, 8, 0);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen > MAX_HEADER_BYTES || 8 + headerLen > fileSize) {
      throw new InputError(`${path}: safetensors header length ${headerLen} does not fit in the ${fileSize}-byte file`);
    }
    const hbuf = Buffer.alloc(headerLen);
    readSync(fd, hbuf, 0, headerLen, 8);
    try {
      header = JSON.parse(hbuf.toString('utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new InputError(`${path}: safetensors header is not valid JSON: ${(e as Error).message}`);
    }
    if (header === null || typeof header !== 'object' || Array.isArray(header)) {
      throw new InputError(`${path}: safetensors header is not a JSON object`);
    }
    dataStart = 8 + headerLen;
  } finally {
    closeSync(fd);
  }

  const dataLen = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const tensors: TensorMap = new Map();
  const spans: Array<[number, number, string]> = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      Object.assign(metadata, entry as Record<string, string>);
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = typeof e.dtype === 'string' ? DTYPES[e.dtype] : undefined;
    if (!dtype) throw new InputError(`${path}: tensor '${name}' has unsupported dtype ${JSON.stringify(e.dtype)}`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new InputError(`${path}: tensor '${name}' has an invalid shape ${JSON.stringify(e.shape)}`);
    }
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0) || offs[0] > offs[1]) {
      throw new InputError(`${path}: tensor '${name}' has invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    if (end > dataLen) {
      throw new InputError(`${path}: tensor '${name}' points past the end of the file (bytes ${begin}..${end} of ${dataLen})`);
    }
    const shape = e.shape as number[];
    const want = numel(shape) * DTYPE_BYTES[dtype];
    if (end - begin !== want) {
      throw new InputError(
        `${path}: tensor '${name}' is ${dtype} [${shape.join(', ')}] (${want} bytes) but its data_offsets span ${end - begin} bytes`,
      );
    }
    spans.push([begin, end, name]);
    const fileOffset = dataStart + begin;
    tensors.set(name, {
      dtype,
      shape,
      bytes: () => readRange(path, fileOffset, want),
    });
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) {
      throw new InputError(`${path}: tensors '${spans[i - 1][2]}' and '${spans[i][2]}' overlap`);
    }
  }
  return { path, metadata, tensors };
}

/** Reads `length` bytes at `offset`, in chunks (one read call is capped below 2 GiB). */
export async function readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  const fh = await open(path, 'r');
  try {
    const CHUNK = 1 << 30;
    for (let done = 0; done < length; ) {
      const { bytesRead } = await fh.read(out, done, Math.min(CHUNK, length - done), offset + done);
      if (bytesRead === 0) throw new InputError(`${path}: unexpected end of file at byte ${offset + done}`);
      done += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return out;
}
