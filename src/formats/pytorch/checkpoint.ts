/**
 * PyTorch checkpoint reader (`torch.save` zip format, torch 1.6 and later).
 *
 * A checkpoint is a zip with `<prefix>/data.pkl` (the pickled object graph),
 * one `<prefix>/data/<key>` record per storage, and small bookkeeping records
 * (`version`, and in torch 2.x `byteorder`, `.format_version`,
 * `.storage_alignment`, `.data/serialization_id`). The prefix is whatever the
 * file was called when saved, not necessarily its current name.
 *
 * The pickle is read with the restricted unpickler; tensors come back as
 * TorchTensor (a LazyTensor) that reads its bytes from the storage record
 * only when asked, so describing a multi-GB checkpoint reads a few kilobytes.
 */
import { InputError } from '../../util/errors.js';
import { DTYPE_BYTES, numel, type DType, type LazyTensor } from '../tensor.js';
import {
  PyCallable,
  PyGlobalValue,
  isTuple,
  resolvePythonGlobal,
  unpickle,
  describe,
  UnsafePickleError,
  type PyTuple,
  type ResolvedGlobal,
} from './pickle.js';
import { readZipDirectory, readZipRecord, readZipRecordRange, type ZipDirectory, type ZipRecord } from './zip.js';

/** torch's legacy storage class names (still what torch 2.x pickles) -> dtype. */
export const STORAGE_DTYPES: Record<string, DType> = {
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

/** torch dtype globals (`torch.float16`...) that appear in newer pickles. */
const TORCH_DTYPES: Record<string, DType> = {
  float16: 'float16',
  half: 'float16',
  bfloat16: 'bfloat16',
  float32: 'float32',
  float: 'float32',
  float64: 'float64',
  double: 'float64',
  int64: 'int64',
  long: 'int64',
  int32: 'int32',
  int: 'int32',
  int16: 'int16',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
};

/** One storage record: a flat run of `numel` elements of one dtype. */
export interface TorchStorage {
  key: string;
  dtype: DType;
  /** Where it lived when saved ('cpu', 'cuda:0'...); we always read it to host memory. */
  location: string;
  numel: number;
  record: ZipRecord;
}

/** A tensor view of a storage (offset and strides in elements), read lazily. */
export class TorchTensor implements LazyTensor {
  /** True when it was pickled as an nn.Parameter. */
  isParameter = false;
  constructor(
    readonly file: TorchCheckpoint,
    readonly storage: TorchStorage,
    readonly storageOffset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}

  get dtype(): DType {
    return this.storage.dtype;
  }

  /** True when the elements are laid out row-major without gaps. */
  isContiguous(): boolean {
    let expected = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.stride[i] !== expected) return false;
      expected *= this.shape[i];
    }
    return true;
  }

  async bytes(): Promise<Uint8Array> {
    const el = DTYPE_BYTES[this.dtype];
    const n = numel(this.shape);
    if (n === 0) return new Uint8Array(0);
    if (this.isContiguous()) {
      return readZipRecordRange(this.file.zip, this.storage.record, this.storageOffset * el, n * el);
    }
    // Strided view: read the span it touches, then gather row-major.
    const span = spanOf(this.shape, this.stride);
    const src = await readZipRecordRange(this.file.zip, this.storage.record, this.storageOffset * el, span * el);
    const out = new Uint8Array(n * el);
    const idx = new Array<number>(this.shape.length).fill(0);
    for (let i = 0; i < n; i++) {
      let off = 0;
      for (let d = 0; d < idx.length; d++) off += idx[d] * this.stride[d];
      out.set(src.subarray(off * el, off * el + el), i * el);
      for (let d = idx.length - 1; d >= 0; d--) {
        if (++idx[d] < this.shape[d]) break;
        idx[d] = 0;
      }
    }
    return out;
  }
}

/** Number of storage elements a view touches (1 + the largest offset). */
function spanOf(shape: readonly number[], stride: readonly number[]): number {
  let last = 0;
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 0) return 0;
    last += (shape[i] - 1) * stride[i];
  }
  return last + 1;
}

export interface TorchCheckpoint {
  path: string;
  zip: ZipDirectory;
  /** The records' common folder, e.g. 'esm2_t36_3B_UR50D/' (the name at save time). */
  prefix: string;
  /** The unpickled object graph (PyDict, PyObject, TorchTensor, arrays, primitives). */
  root: unknown;
  pickle: { protocol: number; globals: string[]; persistentIds: number };
  storages: Map<string, TorchStorage>;
}

/** Lists a checkpoint's zip records without unpickling anything. */
export function listTorchRecords(path: string): ZipRecord[] {
  return readZipDirectory(path).records;
}

/** Globals a torch checkpoint may use beyond plain Python data; everything else follows resolvePythonGlobal. */
function resolveTorchGlobal(ckpt: TorchCheckpoint, module: string, name: string): ResolvedGlobal {
  const src = ckpt.path;
  const qual = `${module}.${name}`;
  if (module === 'torch' && name in STORAGE_DTYPES) return new PyGlobalValue(qual, STORAGE_DTYPES[name]);
  if (module === 'torch' && name in TORCH_DTYPES) return new PyGlobalValue(qual, TORCH_DTYPES[name]);
  if ((module === 'torch' || module === 'torch.storage') && (name === 'UntypedStorage' || name === 'ByteStorage')) {
    return new PyGlobalValue(qual, 'uint8');
  }
  if (module === 'torch._utils') {
    switch (name) {
      case '_rebuild_tensor':
      case '_rebuild_tensor_v2':
      case '_rebuild_tensor_v3':
        return new PyCallable(qual, (args) => rebuildTensor(ckpt, args, name === '_rebuild_tensor_v3'));
      case '_rebuild_parameter':
      case '_rebuild_parameter_with_state': {
        return new PyCallable(qual, (args) => {
          const t = args[0];
          if (!(t instanceof TorchTensor)) throw new InputError(`${src}: ${qual} of ${describe(t)}`);
          t.isParameter = true;
          return t;
        });
      }
      default:
        break;
    }
  }
  // Plain tensors saved by torch 2.x may come through `_rebuild_from_type_v2(func, type, args, state)`.
  if (module === 'torch._tensor' && name === '_rebuild_from_type_v2') {
    return new PyCallable(qual, (args) => {
      const fn = args[0];
      const fnArgs = args[2];
      if (!(fn instanceof PyCallable) || !isTuple(fnArgs)) throw new InputError(`${src}: ${qual} with a function that is not allow-listed`);
      return fn.call(fnArgs);
    });
  }
  if (module === 'torch' && name === 'Size') {
    return new PyCallable(qual, (args) => Object.freeze([...(args[0] as unknown[])]));
  }
  if (module === 'torch' && name === 'device') {
    return new PyCallable(qual, (args) => args.map(String).join(':'));
  }
  return resolvePythonGlobal(module, name, src);
}

function asInt(v: unknown, what: string, src: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new InputError(`${src}: ${what} is ${String(v)}, expected a non-negative integer`);
  return v;
}

function rebuildTensor(ckpt: TorchCheckpoint, args: PyTuple, v3: boolean): TorchTensor {
  const src = ckpt.path;
  const [storage, offset, size, stride] = args;
  if (!storage || typeof storage !== 'object' || !('record' in storage)) {
    throw new InputError(`${src}: tensor rebuilt from ${describe(storage)} instead of a storage`);
  }
  const st = storage as TorchStorage;
  if (!Array.isArray(size) || !Array.isArray(stride) || size.length !== stride.length) {
    throw new InputError(`${src}: tensor in storage ${st.key} has a malformed size/stride`);
  }
  const shape = size.map((d, i) => asInt(d, `dimension ${i} of a tensor in storage ${st.key}`, src));
  const strides = stride.map((d, i) => asInt(d, `stride ${i} of a tensor in storage ${st.key}`, src));
  const off = asInt(offset, `storage offset of a tensor in storage ${st.key}`, src);
  let dtype = st.dtype;
  if (v3) {
    // _rebuild_tensor_v3(storage, offset, size, stride, requires_grad, hooks, dtype, ...): untyped storage + dtype.
    const d = args[6] instanceof PyGlobalValue ? args[6].value : args[6];
    if (typeof d !== 'string' || !(d in DTYPE_BYTES)) throw new InputError(`${src}: tensor in storage ${st.key} has unsupported dtype ${String(d)}`);
    dtype = d as DType;
  }
  const view: TorchStorage = dtype === st.dtype ? st : retype(st, dtype, src);
  const span = spanOf(shape, strides);
  if (span > 0 && off + span > view.numel) {
    throw new InputError(
      `${src}: a tensor of shape [${shape.join(', ')}] at offset ${off} needs ${off + span} elements but storage ${st.key} holds ${view.numel}`,
    );
  }
  return new TorchTensor(ckpt, view, off, shape, strides);
}

function retype(st: TorchStorage, dtype: DType, src: string): TorchStorage {
  const bytes = st.numel * DTYPE_BYTES[st.dtype];
  if (bytes % DTYPE_BYTES[dtype] !== 0) throw new InputError(`${src}: storage ${st.key} cannot be viewed as ${dtype}`);
  return { ...st, dtype, numel: bytes / DTYPE_BYTES[dtype] };
}

function findPickleRecord(zip: ZipDirectory): ZipRecord {
  const candidates = zip.records.filter((r) => r.name === 'data.pkl' || /^[^/]+\/data\.pkl$/.test(r.name));
  if (candidates.length === 0) {
    throw new InputError(`${zip.path}: not a PyTorch checkpoint (the zip has no data.pkl record)`);
  }
  if (candidates.length > 1) {
    throw new InputError(`${zip.path}: ambiguous PyTorch checkpoint (${candidates.length} data.pkl records)`);
  }
  return candidates[0];
}

/** Reads a `torch.save` zip file: the object graph with lazy tensors. Never executes anything from the file. */
export async function readTorchFile(path: string): Promise<TorchCheckpoint> {
  const zip = readZipDirectory(path);
  const pkl = findPickleRecord(zip);
  const prefix = pkl.name.slice(0, pkl.name.length - 'data.pkl'.length);
  const byName = new Map(zip.records.map((r) => [r.name, r]));
  const byteorder = byName.get(`${prefix}byteorder`);
  if (byteorder) {
    const order = Buffer.from(await readZipRecord(zip, byteorder)).toString('latin1').trim();
    if (order !== 'little') {
      // Only the two values torch writes are quoted: the record could hold anything.
      const what = order === 'big' ? "'big'" : 'not recognised';
      throw new InputError(`${path}: checkpoint byte order is ${what}; only little-endian files are supported`);
    }
  }
  const ckpt: TorchCheckpoint = {
    path,
    zip,
    prefix,
    root: undefined,
    pickle: { protocol: 0, globals: [], persistentIds: 0 },
    storages: new Map(),
  };
  const persistentLoad = (pid: unknown): TorchStorage => {
    // ('storage', storage_type, key, location, numel)
    if (!isTuple(pid) || pid.length < 5 || pid[0] !== 'storage') {
      throw new UnsafePickleError(`${path}: unsupported persistent id ${describe(pid)} (only torch storages are read)`);
    }
    const [, type, key, location, count] = pid;
    const dtype = type instanceof PyGlobalValue && typeof type.value === 'string' ? (type.value as DType) : undefined;
    if (!dtype) throw new InputError(`${path}: storage with unsupported type ${describe(type)}`);
    const k = String(key);
    const existing = ckpt.storages.get(k);
    if (existing) return existing;
    const record = byName.get(`${prefix}data/${k}`);
    if (!record) throw new InputError(`${path}: storage '${k}' has no record '${prefix}data/${k}' in the zip (truncated file?)`);
    const n = asInt(count, `element count of storage ${k}`, path);
    if (n * DTYPE_BYTES[dtype] > record.size) {
      throw new InputError(`${path}: storage '${k}' declares ${n} ${dtype} elements (${n * DTYPE_BYTES[dtype]} bytes) but its record holds ${record.size}`);
    }
    const st: TorchStorage = { key: k, dtype, location: String(location), numel: n, record };
    ckpt.storages.set(k, st);
    return st;
  };
  const data = await readZipRecord(zip, pkl);
  const result = unpickle(data, {
    source: path,
    resolveGlobal: (m, n) => resolveTorchGlobal(ckpt, m, n),
    persistentLoad,
  });
  ckpt.root = result.value;
  ckpt.pickle = { protocol: result.protocol, globals: result.globals, persistentIds: result.persistentIds };
  return ckpt;
}
