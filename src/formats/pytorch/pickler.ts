/**
 * A small protocol-2 pickler for the values torch checkpoints hold: the
 * inverse of pickle.ts for the same value model (PyDict, PyObject, frozen
 * arrays as tuples, Set, primitives) plus tensors, which are written as
 * persistent storage ids exactly as `torch.save` does.
 */
import type { DType, LazyTensor } from '../tensor.js';
import { OP } from './pickle-opcodes.js';
import { PyDict, PyObject, isTuple } from './pickle-values.js';

/** Forces a JS number to be pickled as a Python float (1.0 rather than 1). */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** A tensor pickled through `torch._utils._rebuild_parameter` (an nn.Parameter). */
export class PyParameter {
  constructor(
    readonly tensor: LazyTensor,
    readonly requiresGrad = true,
  ) {}
}

export interface StorageRef {
  key: string;
  tensor: LazyTensor;
}

const STORAGE_TYPE: Record<DType, string> = {
  float16: 'HalfStorage',
  bfloat16: 'BFloat16Storage',
  float32: 'FloatStorage',
  float64: 'DoubleStorage',
  int64: 'LongStorage',
  int32: 'IntStorage',
  int16: 'ShortStorage',
  int8: 'CharStorage',
  uint8: 'ByteStorage',
  bool: 'BoolStorage',
};

export function isLazyTensor(v: unknown): v is LazyTensor {
  return v !== null && typeof v === 'object' && 'dtype' in v && 'shape' in v && typeof (v as LazyTensor).bytes === 'function';
}

/** Row-major strides for a shape. */
function contiguousStride(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

class Out {
  private chunks: Buffer[] = [];
  byte(b: number): void {
    this.chunks.push(Buffer.from([b]));
  }
  bytes(b: Uint8Array): void {
    this.chunks.push(Buffer.from(b));
  }
  text(s: string): void {
    this.chunks.push(Buffer.from(s, 'utf8'));
  }
  result(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/**
 * Pickles `root` with protocol 2. Tensors become storages keyed '0', '1', ...
 * (one per distinct LazyTensor object; the same object twice shares one
 * storage, as tied weights do in torch).
 */
export function picklePy(root: unknown): { data: Buffer; storages: StorageRef[] } {
  const out = new Out();
  const storages: StorageRef[] = [];
  const keys = new Map<LazyTensor, string>();

  const global = (module: string, name: string): void => {
    out.byte(OP.GLOBAL);
    out.text(`${module}\n${name}\n`);
  };
  const int = (v: number | bigint): void => {
    if (typeof v === 'number' && v >= 0 && v < 0x100) {
      out.byte(OP.BININT1);
      out.byte(v);
    } else if (typeof v === 'number' && v >= 0 && v < 0x10000) {
      out.byte(OP.BININT2);
      out.bytes(Uint8Array.of(v & 0xff, v >> 8));
    } else if (typeof v === 'number' && v >= -0x80000000 && v <= 0x7fffffff) {
      const b = Buffer.alloc(4);
      b.writeInt32LE(v);
      out.byte(OP.BININT);
      out.bytes(b);
    } else {
      // LONG1: little-endian two's complement, minimal length.
      let x = BigInt(v);
      const bytes: number[] = [];
      for (;;) {
        bytes.push(Number(x & 0xffn));
        x >>= 8n;
        const signBit = (bytes[bytes.length - 1] & 0x80) !== 0;
        if ((x === 0n && !signBit) || (x === -1n && signBit)) break;
      }
      out.byte(OP.LONG1);
      out.byte(bytes.length);
      out.bytes(Uint8Array.from(bytes));
    }
  };
  const float = (v: number): void => {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    out.byte(OP.BINFLOAT);
    out.bytes(b);
  };
  const str = (s: string): void => {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    out.byte(OP.BINUNICODE);
    out.bytes(len);
    out.bytes(b);
  };
  const tuple = (items: readonly unknown[]): void => {
    if (items.length === 0) return out.byte(OP.EMPTY_TUPLE);
    if (items.length <= 3) {
      for (const it of items) save(it);
      return out.byte([OP.TUPLE1, OP.TUPLE2, OP.TUPLE3][items.length - 1]);
    }
    out.byte(OP.MARK);
    for (const it of items) save(it);
    out.byte(OP.TUPLE);
  };
  const setItems = (entries: Iterable<[unknown, unknown]>): void => {
    out.byte(OP.MARK);
    for (const [k, v] of entries) {
      save(k);
      save(v);
    }
    out.byte(OP.SETITEMS);
  };
  const emptyOrderedDict = (): void => {
    global('collections', 'OrderedDict');
    out.byte(OP.EMPTY_TUPLE);
    out.byte(OP.REDUCE);
  };
  const tensor = (t: LazyTensor): void => {
    let key = keys.get(t);
    if (key === undefined) {
      key = String(storages.length);
      keys.set(t, key);
      storages.push({ key, tensor: t });
    }
    global('torch._utils', '_rebuild_tensor_v2');
    out.byte(OP.MARK);
    // persistent id ('storage', torch.<Type>Storage, key, 'cpu', numel)
    out.byte(OP.MARK);
    str('storage');
    global('torch', STORAGE_TYPE[t.dtype]);
    str(key);
    str('cpu');
    int(t.shape.reduce((a, b) => a * b, 1));
    out.byte(OP.TUPLE);
    out.byte(OP.BINPERSID);
    int(0);
    tuple(t.shape);
    tuple(contiguousStride(t.shape));
    out.byte(OP.NEWFALSE);
    emptyOrderedDict();
    out.byte(OP.TUPLE);
    out.byte(OP.REDUCE);
  };
  function save(v: unknown): void {
    if (v === null || v === undefined) return out.byte(OP.NONE);
    if (v === true) return out.byte(OP.NEWTRUE);
    if (v === false) return out.byte(OP.NEWFALSE);
    if (typeof v === 'bigint') return int(v);
    if (typeof v === 'number') return Number.isSafeInteger(v) ? int(v) : float(v);
    if (v instanceof PyFloat) return float(v.value);
    if (typeof v === 'string') return str(v);
    if (v instanceof Uint8Array && !isLazyTensor(v)) {
      // bytes at protocol 2, as Python 3 writes them.
      global('_codecs', 'encode');
      str(Buffer.from(v).toString('latin1'));
      str('latin1');
      out.byte(OP.TUPLE2);
      return out.byte(OP.REDUCE);
    }
    if (isLazyTensor(v)) return tensor(v);
    if (v instanceof PyParameter) {
      global('torch._utils', '_rebuild_parameter');
      tensor(v.tensor);
      save(v.requiresGrad);
      emptyOrderedDict();
      out.byte(OP.TUPLE3);
      return out.byte(OP.REDUCE);
    }
    if (isTuple(v)) return tuple(v);
    if (Array.isArray(v)) {
      out.byte(OP.EMPTY_LIST);
      if (v.length > 0) {
        out.byte(OP.MARK);
        for (const it of v) save(it);
        out.byte(OP.APPENDS);
      }
      return;
    }
    if (v instanceof Set) {
      global('__builtin__', 'set');
      out.byte(OP.EMPTY_LIST);
      if (v.size > 0) {
        out.byte(OP.MARK);
        for (const it of v) save(it);
        out.byte(OP.APPENDS);
      }
      out.byte(OP.TUPLE1);
      return out.byte(OP.REDUCE);
    }
    if (v instanceof Map) {
      const cls = v instanceof PyDict ? v.className : 'dict';
      if (cls === 'dict') out.byte(OP.EMPTY_DICT);
      else {
        const dot = cls.lastIndexOf('.');
        global(cls.slice(0, dot), cls.slice(dot + 1));
        out.byte(OP.EMPTY_TUPLE);
        out.byte(OP.REDUCE);
      }
      if (v.size > 0) setItems(v);
      if (v instanceof PyDict && Object.keys(v.attrs).length > 0) {
        out.byte(OP.EMPTY_DICT);
        setItems(Object.entries(v.attrs));
        out.byte(OP.BUILD);
      }
      return;
    }
    if (v instanceof PyObject) {
      const dot = v.className.lastIndexOf('.');
      global(v.className.slice(0, dot), v.className.slice(dot + 1));
      tuple(v.args);
      out.byte(OP.NEWOBJ);
      out.byte(OP.EMPTY_DICT);
      const entries = Object.entries(v.attrs);
      if (entries.length > 0) setItems(entries);
      return out.byte(OP.BUILD);
    }
    throw new Error(`cannot pickle ${typeof v} (${Object.prototype.toString.call(v)})`);
  }

  out.byte(OP.PROTO);
  out.byte(2);
  save(root);
  out.byte(OP.STOP);
  return { data: out.result(), storages };
}
