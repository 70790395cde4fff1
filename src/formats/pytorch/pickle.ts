/**
 * A restricted Python unpickler (protocols 0 to 5) that never executes
 * anything from the file.
 *
 * Python's pickle format is a small stack machine whose GLOBAL/REDUCE opcodes
 * import and call arbitrary functions: that is how `torch.load` runs code
 * from a file. Here every GLOBAL goes through `resolveGlobal`:
 * - allow-listed names become TypeScript stand-ins (PyCallable: rebuild a
 *   tensor, build an OrderedDict...);
 * - names from modules that can run code (os, subprocess, builtins.eval...)
 *   are refused at once, naming the global;
 * - any other name becomes a PyClassRef: instantiating it (NEWOBJ, BUILD)
 *   gives an inert PyObject holding its state, calling it (REDUCE) is refused.
 *
 * Value mapping: None -> null, bool, int -> number (bigint beyond 2^53),
 * float -> number, str -> string, bytes -> Uint8Array, list -> array,
 * tuple -> PyTuple (a frozen array), dict -> PyDict (a Map), set -> Set.
 */
import { InputError } from '../../util/errors.js';

/** A Python dict (or OrderedDict) that may carry instance attributes (state_dict `_metadata`). */
export class PyDict extends Map<unknown, unknown> {
  /** 'dict' or the qualified class name, e.g. 'collections.OrderedDict'. */
  className: string;
  readonly attrs: Record<string, unknown> = {};
  constructor(className = 'dict') {
    super();
    this.className = className;
  }
}

/** An instance of a class we do not model (nn.Module, argparse.Namespace...): only its data. */
export class PyObject {
  /** Qualified class name, e.g. '__main__.MLPClassifier'. */
  readonly className: string;
  /** Arguments given to `cls.__new__` / the reconstructor. */
  readonly args: readonly unknown[];
  /** `__dict__` after BUILD. */
  readonly attrs: Record<string, unknown> = {};
  /** State that was not a dict (set by BUILD), and items appended/set on the object. */
  state: unknown = undefined;
  readonly listItems: unknown[] = [];
  readonly dictItems = new Map<unknown, unknown>();
  constructor(className: string, args: readonly unknown[] = []) {
    this.className = className;
    this.args = args;
  }
}

/** A Python tuple: a frozen array, so it can be told apart from a list. */
export type PyTuple = readonly unknown[];
export function isTuple(v: unknown): v is PyTuple {
  return Array.isArray(v) && Object.isFrozen(v);
}
function tuple(items: unknown[]): PyTuple {
  return Object.freeze(items);
}

/** An allow-listed callable: what REDUCE may call, implemented in TypeScript. */
export class PyCallable {
  constructor(
    readonly qualname: string,
    readonly call: (args: PyTuple) => unknown,
  ) {}
}

/** A class that is not allow-listed: can be instantiated inertly, never called. */
export class PyClassRef {
  constructor(readonly qualname: string) {}
}

/** A global that is a plain value (e.g. `torch.float16`, a storage type). */
export class PyGlobalValue {
  constructor(
    readonly qualname: string,
    readonly value: unknown,
  ) {}
}

export type ResolvedGlobal = PyCallable | PyClassRef | PyGlobalValue;

/**
 * Modules whose globals can run code or touch the system. Refused outright so
 * the error names the culprit even when the pickle never calls it.
 */
const CODE_RUNNING_MODULES = new Set([
  'os', 'posix', 'nt', 'subprocess', 'sys', 'shutil', 'socket', 'importlib', 'pickle', '_pickle', 'marshal',
  'runpy', 'code', 'codeop', 'pty', 'ctypes', 'webbrowser', 'multiprocessing', 'threading', 'signal', 'io',
  'tempfile', 'pathlib', 'urllib', 'http', 'ftplib', 'smtplib', 'telnetlib', 'asyncio', 'types', 'inspect',
  'operator', 'functools', 'timeit', 'pdb', 'bdb', 'trace', 'profile', 'cProfile', 'platform', 'commands',
  'popen2', 'dill', 'cloudpickle', 'joblib', 'torch.hub', 'torch.serialization', 'torch.jit', 'torch._C',
  'torch.ops', 'torch.utils.cpp_extension', 'numpy.testing', 'pip', 'setuptools', 'distutils',
]);
/** builtins that are plain data constructors; every other builtin (eval, exec, getattr, open...) is refused. */
const SAFE_BUILTINS = new Set(['set', 'frozenset', 'list', 'dict', 'tuple', 'bytearray', 'bytes', 'slice', 'complex', 'object', 'int', 'float', 'str', 'bool', 'range']);

function isCodeRunning(module: string, name: string): boolean {
  const top = module.split('.')[0];
  if (module === 'builtins' || module === '__builtin__') return !SAFE_BUILTINS.has(name);
  if (CODE_RUNNING_MODULES.has(module) || CODE_RUNNING_MODULES.has(top)) return true;
  for (const m of CODE_RUNNING_MODULES) if (module.startsWith(`${m}.`)) return true;
  // Dunder names (e.g. `__import__`, `__getattribute__`) reach interpreter machinery.
  return name.startsWith('__') && name.endsWith('__');
}

/** Thrown for anything that would make Python run code or that we refuse to model. */
export class UnsafePickleError extends InputError {}

/** Globals every Python pickle may use, whatever it holds. */
export function resolvePythonGlobal(module: string, name: string, source: string): ResolvedGlobal {
  const qual = `${module}.${name}`;
  if (isCodeRunning(module, name)) {
    throw new UnsafePickleError(`${source}: refusing pickle global '${qual}': loading it could run code`, {
      hint: 'The file is not a plain checkpoint. Do not load it with torch.load either.',
    });
  }
  const b = module === 'builtins' || module === '__builtin__';
  if (b && (name === 'set' || name === 'frozenset')) {
    return new PyCallable(qual, (args) => new Set(args.length > 0 ? iterate(args[0], source) : []));
  }
  if (b && (name === 'list' || name === 'tuple')) {
    return new PyCallable(qual, (args) => (args.length > 0 ? [...iterate(args[0], source)] : []));
  }
  if (b && name === 'dict') return new PyCallable(qual, () => new PyDict());
  if (b && (name === 'bytearray' || name === 'bytes')) {
    return new PyCallable(qual, (args) => (args[0] instanceof Uint8Array ? args[0] : new Uint8Array(0)));
  }
  if (module === 'collections' && name === 'OrderedDict') {
    return new PyCallable(qual, (args) => {
      const d = new PyDict(qual);
      if (args.length > 0) for (const pair of iterate(args[0], source)) setPair(d, pair, source);
      return d;
    });
  }
  // Python 3 pickles bytes at protocol 2 as `_codecs.encode(text, 'latin1')`.
  if (module === '_codecs' && name === 'encode') {
    return new PyCallable(qual, (args) => {
      if (typeof args[0] !== 'string' || (args[1] !== 'latin1' && args[1] !== 'latin-1')) {
        throw new UnsafePickleError(`${source}: _codecs.encode is only accepted with a str and 'latin1'`);
      }
      return Uint8Array.from(args[0], (c) => c.charCodeAt(0) & 0xff);
    });
  }
  // Protocol 0/1 object reconstruction: copyreg._reconstructor(cls, base, state) -> inert instance.
  if (module === 'copyreg' || module === 'copy_reg') {
    if (name === '_reconstructor') {
      return new PyCallable(qual, (args) => {
        const cls = args[0];
        if (!(cls instanceof PyClassRef)) throw new UnsafePickleError(`${source}: copyreg._reconstructor of a non-class`);
        return new PyObject(cls.qualname, args.slice(2));
      });
    }
    throw new UnsafePickleError(`${source}: refusing pickle global '${qual}'`);
  }
  return new PyClassRef(qual);
}

function iterate(v: unknown, source: string): unknown[] {
  if (Array.isArray(v)) return v;
  if (v instanceof Set) return [...v];
  if (v instanceof Map) return [...v.keys()];
  throw new InputError(`${source}: pickle expected an iterable, got ${describe(v)}`);
}

function setPair(d: Map<unknown, unknown>, pair: unknown, source: string): void {
  if (!Array.isArray(pair) || pair.length !== 2) throw new InputError(`${source}: pickle expected (key, value) pairs`);
  d.set(pair[0], pair[1]);
}

export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PyObject) return `instance of ${v.className}`;
  if (v instanceof PyDict) return v.className;
  if (v instanceof PyCallable || v instanceof PyClassRef || v instanceof PyGlobalValue) return v.qualname;
  if (isTuple(v)) return 'tuple';
  if (Array.isArray(v)) return 'list';
  return typeof v;
}

export interface UnpickleOptions {
  /** Names the file in errors. */
  source: string;
  /** Resolves GLOBAL / STACK_GLOBAL (defaults to resolvePythonGlobal). */
  resolveGlobal?: (module: string, name: string) => ResolvedGlobal;
  /** Resolves persistent ids (torch storages); refused when absent. */
  persistentLoad?: (pid: unknown) => unknown;
}

export interface UnpickleResult {
  value: unknown;
  /** Highest PROTO seen (0 when the pickle has no PROTO opcode). */
  protocol: number;
  /** Globals referenced, as 'module name', in first-use order. */
  globals: string[];
  persistentIds: number;
}

const MARK = Symbol('mark');
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Unpickles `data` without executing anything; see the module comment for what is allowed. */
export function unpickle(data: Uint8Array, options: UnpickleOptions): UnpickleResult {
  const src = options.source;
  const resolve = options.resolveGlobal ?? ((m: string, n: string) => resolvePythonGlobal(m, n, src));
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const globals: string[] = [];
  let protocol = 0;
  let persistentIds = 0;
  let pos = 0;

  const fail = (msg: string): never => {
    throw new InputError(`${src}: corrupt pickle at byte ${pos}: ${msg}`);
  };
  const need = (n: number): void => {
    if (pos + n > data.byteLength) fail(`needs ${n} more bytes, the pickle ends at ${data.byteLength}`);
  };
  const u8 = (): number => {
    need(1);
    return data[pos++];
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = view.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(data.byteLength)) fail(`length ${v} exceeds the pickle size`);
    return Number(v);
  };
  const bytes = (n: number): Uint8Array => {
    need(n);
    const b = data.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) fail('unterminated text line');
    const s = Buffer.from(data.subarray(pos, end)).toString('latin1');
    pos = end + 1;
    return s;
  };
  const utf8 = (b: Uint8Array): string => {
    try {
      return decoder.decode(b);
    } catch {
      return fail('invalid UTF-8 in a string');
    }
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1])) fail('stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) return fail('no MARK on the stack');
    return stack.splice(m);
  };
  const global = (module: string, name: string): ResolvedGlobal => {
    const key = `${module} ${name}`;
    if (!globals.includes(key)) globals.push(key);
    return resolve(module, name);
  };
  const longFromBytes = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return toIntValue(v);
  };
  const setItems = (target: unknown, kv: unknown[]): void => {
    if (kv.length % 2 !== 0) fail('SETITEMS with an odd number of items');
    const map = target instanceof Map ? target : target instanceof PyObject ? target.dictItems : fail(`cannot set items on ${describe(target)}`);
    for (let i = 0; i < kv.length; i += 2) {
      const k = kv[i];
      if (k !== null && typeof k === 'object' && !isTuple(k)) fail(`unhashable dict key (${describe(k)})`);
      map.set(k, kv[i + 1]);
    }
  };
  const appendItems = (target: unknown, items: unknown[]): void => {
    if (Array.isArray(target) && !isTuple(target)) (target as unknown[]).push(...items);
    else if (target instanceof PyObject) target.listItems.push(...items);
    else fail(`cannot append to ${describe(target)}`);
  };
  const instantiate = (cls: unknown, args: PyTuple, how: string): unknown => {
    if (cls instanceof PyClassRef) return new PyObject(cls.qualname, args);
    // Allow-listed classes (OrderedDict, set...) behave as their constructor.
    if (cls instanceof PyCallable) return cls.call(args);
    return fail(`${how} of ${describe(cls)}, which is not a class`);
  };
  const build = (obj: unknown, state: unknown): void => {
    if (obj instanceof PyObject) {
      let dictState = state;
      if (isTuple(state) && state.length === 2) {
        dictState = state[0];
        if (state[1] instanceof Map) for (const [k, v] of state[1]) obj.attrs[String(k)] = v;
      }
      if (dictState instanceof Map) for (const [k, v] of dictState) obj.attrs[String(k)] = v;
      else if (dictState !== null && dictState !== undefined) obj.state = dictState;
      return;
    }
    if (obj instanceof PyDict) {
      // OrderedDict keeps instance attributes such as state_dict `_metadata`.
      if (state instanceof Map) for (const [k, v] of state) obj.attrs[String(k)] = v;
      return;
    }
    if (obj !== null && typeof obj === 'object' && 'setState' in obj && typeof (obj as { setState: unknown }).setState === 'function') {
      (obj as { setState(s: unknown): void }).setState(state);
      return;
    }
    fail(`BUILD on ${describe(obj)}`);
  };

  for (;;) {
    if (pos >= data.byteLength) fail('pickle ends without STOP');
    const op = data[pos++];
    switch (op) {
      case 0x80: // PROTO
        protocol = u8();
        if (protocol > 5) fail(`unsupported pickle protocol ${protocol}`);
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) fail(`STOP with ${stack.length} values on the stack`);
        return { value: stack[0], protocol, globals, persistentIds };
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        if (marks.length > 0 && stack.length === marks[marks.length - 1]) marks.pop();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x49: {
        // INT (text); "01"/"00" are protocol-0 booleans
        const s = line();
        if (s === '01') stack.push(true);
        else if (s === '00') stack.push(false);
        else stack.push(parseIntText(s, fail));
        break;
      }
      case 0x4c: // LONG (text, trailing L)
        stack.push(parseIntText(line().replace(/L$/, ''), fail));
        break;
      case 0x8a: // LONG1
        stack.push(longFromBytes(bytes(u8())));
        break;
      case 0x8b: {
        // LONG4
        const n = i32();
        if (n < 0) fail('negative LONG4 length');
        stack.push(longFromBytes(bytes(n)));
        break;
      }
      case 0x46: {
        // FLOAT (text)
        const v = Number(line());
        if (Number.isNaN(v)) fail('bad FLOAT text');
        stack.push(v);
        break;
      }
      case 0x47: // BINFLOAT (big-endian float64)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x53: {
        // STRING (protocol-0 quoted bytes)
        const s = line();
        const q = s[0];
        if (s.length < 2 || (q !== "'" && q !== '"') || s[s.length - 1] !== q) fail('bad STRING quoting');
        stack.push(s.slice(1, -1));
        break;
      }
      case 0x54: {
        // BINSTRING (Python 2 str: treated as latin-1 text)
        const n = i32();
        if (n < 0) fail('negative BINSTRING length');
        stack.push(Buffer.from(bytes(n)).toString('latin1'));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(Buffer.from(bytes(u8())).toString('latin1'));
        break;
      case 0x56: // UNICODE (raw-unicode-escape, protocol 0)
        stack.push(line().replace(/\\u([0-9a-fA-F]{4})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))));
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8(bytes(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8(bytes(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8(bytes(u64())));
        break;
      case 0x42: // BINBYTES
        stack.push(bytes(u32()));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(bytes(u8()));
        break;
      case 0x8e: // BINBYTES8
        stack.push(bytes(u64()));
        break;
      case 0x96: // BYTEARRAY8
        stack.push(Uint8Array.from(bytes(u64())));
        break;
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        fail('out-of-band pickle buffers are not supported');
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x29: // EMPTY_TUPLE
        stack.push(tuple([]));
        break;
      case 0x74: // TUPLE
        stack.push(tuple(popMark()));
        break;
      case 0x85: // TUPLE1
        stack.push(tuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b, c]));
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict());
        break;
      case 0x64: {
        // DICT
        const d = new PyDict();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) fail(`ADDITEMS on ${describe(s)}`);
        for (const it of items) (s as Set<unknown>).add(it);
        break;
      }
      case 0x91: // FROZENSET
        stack.push(new Set(popMark()));
        break;
      case 0x70: // PUT
        memo.set(parseIntText(line(), fail) as number, top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x67: // GET
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const idx = op === 0x67 ? (parseIntText(line(), fail) as number) : op === 0x68 ? u8() : u32();
        if (!memo.has(idx)) fail(`memo key ${idx} is not defined`);
        stack.push(memo.get(idx));
        break;
      }
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        const name = line();
        stack.push(global(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE: callable(*args)
        const args = pop();
        const fn = pop();
        if (!isTuple(args)) fail('REDUCE arguments are not a tuple');
        if (fn instanceof PyCallable) stack.push(fn.call(args as PyTuple));
        else if (fn instanceof PyClassRef) {
          throw new UnsafePickleError(`${src}: refusing to call '${fn.qualname}' (pickle REDUCE to a callable that is not allow-listed)`, {
            hint: 'Only tensors, OrderedDicts, argparse.Namespace and plain Python data are read from checkpoints.',
          });
        } else fail(`REDUCE on ${describe(fn)}`);
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        const cls = pop();
        if (!isTuple(args)) fail('NEWOBJ arguments are not a tuple');
        stack.push(instantiate(cls, args as PyTuple, 'NEWOBJ'));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX: cls.__new__(cls, *args, **kwargs)
        pop();
        const args = pop();
        const cls = pop();
        if (!isTuple(args)) fail('NEWOBJ_EX arguments are not a tuple');
        stack.push(instantiate(cls, args as PyTuple, 'NEWOBJ_EX'));
        break;
      }
      case 0x6f: {
        // OBJ: MARK cls args... -> instance
        const items = popMark();
        if (items.length === 0) fail('OBJ without a class');
        stack.push(instantiate(items[0], tuple(items.slice(1)), 'OBJ'));
        break;
      }
      case 0x69: {
        // INST "module\nname\n": MARK args... -> instance
        const module = line();
        const name = line();
        const cls = global(module, name);
        stack.push(instantiate(cls, tuple(popMark()), 'INST'));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        build(top(), state);
        break;
      }
      case 0x50: // PERSID
      case 0x51: {
        // BINPERSID
        const pid = op === 0x50 ? line() : pop();
        if (!options.persistentLoad) fail('persistent ids are not allowed in this pickle');
        persistentIds++;
        stack.push(options.persistentLoad!(pid));
        break;
      }
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        throw new UnsafePickleError(`${src}: refusing pickle extension-registry opcode (EXT) at byte ${pos - 1}`);
      default:
        fail(`unknown opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
}

function toIntValue(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function parseIntText(s: string, fail: (m: string) => never): number | bigint {
  if (!/^[+-]?\d+$/.test(s.trim())) fail(`bad integer text '${s}'`);
  return toIntValue(BigInt(s.trim()));
}
