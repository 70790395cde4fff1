/**
 * safetensors reader: an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {...}}`,
 * then the tensor bytes. Tensors are read lazily from the file.
 */
import { open } from 'node:fs/promises';
import { openSync, readSync, fstatSync, closeSync } from 'node:fs';
import { InputError } from '../util/errors.js';
import { jsonSyntaxProblem } from '../util/json.js';
import { AtomicFileWriter } from '../util/atomic.js';
import { DTYPE_BYTES, numel, type DType, type TensorMap } from './tensor.js';

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
      throw new InputError(`${path}: safetensors header is not valid JSON (${jsonSyntaxProblem(e)})`);
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
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry) || !Object.values(entry).every((v) => typeof v === 'string')) {
        throw new InputError(`${path}: safetensors __metadata__ must map names to strings`);
      }
      Object.assign(metadata, entry as Record<string, string>);
      continue;
    }
    if (entry === null || typeof entry !== 'object') throw new InputError(`${path}: safetensors entry '${name}' is not an object`);
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
    if (!Number.isSafeInteger(want)) throw new InputError(`${path}: tensor '${name}' has an impossible shape [${shape.join(', ')}]`);
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

const DTYPE_CODES: Record<DType, string> = Object.fromEntries(Object.entries(DTYPES).map(([code, dt]) => [dt, code])) as Record<DType, string>;

/**
 * The bytes that precede the tensor data of a safetensors file: the 8-byte header length and
 * the JSON header (padded with spaces to a multiple of 8 bytes, as the reference implementation
 * does). Tensors follow in the given order, packed. Lets a caller stream data it does not hold.
 */
export function safetensorsHeader(tensors: ReadonlyArray<{ name: string; dtype: DType; shape: readonly number[] }>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const { name, dtype, shape } of tensors) {
    const size = numel(shape) * DTYPE_BYTES[dtype];
    header[name] = { dtype: DTYPE_CODES[dtype], shape: [...shape], data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad > 0) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json]);
}

/**
 * Writes tensors as a safetensors file, atomically, one tensor in memory at
 * a time (so it can write files larger than the heap). The header is padded
 * with spaces to a multiple of 8 bytes, as the reference implementation does.
 */
export async function writeSafetensors(path: string, tensors: TensorMap, metadata: Record<string, string> = { format: 'pt' }): Promise<void> {
  const header = safetensorsHeader([...tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape })), metadata);
  const out = new AtomicFileWriter(path);
  try {
    out.write(header);
    for (const [name, t] of tensors) {
      const bytes = await t.bytes();
      const want = numel(t.shape) * DTYPE_BYTES[t.dtype];
      if (bytes.byteLength !== want) throw new Error(`tensor '${name}' produced ${bytes.byteLength} bytes, expected ${want}`);
      out.write(bytes);
    }
    out.commit();
  } catch (e) {
    out.abort();
    throw e;
  }
}
