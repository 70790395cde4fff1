/**
 * A restricted Python unpickler (protocols 0 to 5) that never executes
 * anything from the file.
 *
 * Python's pickle format is a small stack machine: each opcode byte pushes,
 * pops or combines values. As in CPython's `_Unpickler`, the machine state
 * lives in one object (Unpickler) and each opcode has one handler in a
 * dispatch table keyed by the opcode byte. GLOBAL/REDUCE are how `torch.load`
 * runs code from a file; here every global goes through the policy in
 * pickle-globals.ts (or the caller's `resolveGlobal`), and REDUCE only calls
 * allow-listed TypeScript stand-ins. The values produced are described in
 * pickle-values.ts.
 */
import { InputError } from '../../util/errors.js';
import { ByteCursor } from './byte-cursor.js';
import { UnsafePickleError, resolvePythonGlobal } from './pickle-globals.js';
import { HIGHEST_PROTOCOL, OP } from './pickle-opcodes.js';
import {
  PyCallable,
  PyClassRef,
  PyDict,
  PyObject,
  describe,
  isTuple,
  tuple,
  type PyTuple,
  type ResolvedGlobal,
} from './pickle-values.js';

export { PyDict, PyObject, PyCallable, PyClassRef, PyGlobalValue, isTuple, describe } from './pickle-values.js';
export type { PyTuple, ResolvedGlobal } from './pickle-values.js';
export { UnsafePickleError, resolvePythonGlobal } from './pickle-globals.js';

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

/** Unpickles `data` without executing anything; see the module comment for what is allowed. */
export function unpickle(data: Uint8Array, options: UnpickleOptions): UnpickleResult {
  return new Unpickler(data, options).load();
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** The stack machine's state and the operations the opcode handlers share. */
class Unpickler {
  readonly src: string;
  readonly input: ByteCursor;
  readonly stack: unknown[] = [];
  /** Stack lengths at each MARK, innermost last. */
  readonly marks: number[] = [];
  readonly memo = new Map<number, unknown>();
  readonly globals: string[] = [];
  protocol = 0;
  persistentIds = 0;
  /** Set by STOP. */
  stopped = false;
  private readonly resolve: (module: string, name: string) => ResolvedGlobal;

  constructor(
    data: Uint8Array,
    readonly options: UnpickleOptions,
  ) {
    const src = options.source;
    this.src = src;
    this.resolve = options.resolveGlobal ?? ((m: string, n: string) => resolvePythonGlobal(m, n, src));
    this.input = new ByteCursor(data, (msg) => this.fail(msg), 'pickle');
  }

  load(): UnpickleResult {
    while (!this.stopped) {
      if (this.input.atEnd) this.fail('pickle ends without STOP');
      const op = this.input.u8();
      const handler = dispatch[op];
      if (!handler) this.fail(`unknown opcode 0x${op.toString(16).padStart(2, '0')}`);
      handler(this);
    }
    return { value: this.stack[0], protocol: this.protocol, globals: this.globals, persistentIds: this.persistentIds };
  }

  fail(msg: string): never {
    throw new InputError(`${this.src}: corrupt pickle at byte ${this.input.pos}: ${msg}`);
  }

  push(v: unknown): void {
    this.stack.push(v);
  }

  /** Pops one value; popping through the innermost MARK is an underflow. */
  pop(): unknown {
    const { stack, marks } = this;
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1])) this.fail('stack underflow');
    return stack.pop();
  }

  top(): unknown {
    if (this.stack.length === 0) this.fail('stack underflow');
    return this.stack[this.stack.length - 1];
  }

  /** Pops everything above the innermost MARK, and the mark. */
  popMark(): unknown[] {
    const m = this.marks.pop();
    if (m === undefined) return this.fail('no MARK on the stack');
    return this.stack.splice(m);
  }

  utf8(b: Uint8Array): string {
    try {
      return decoder.decode(b);
    } catch {
      return this.fail('invalid UTF-8 in a string');
    }
  }

  intText(s: string): number | bigint {
    if (!/^[+-]?\d+$/.test(s.trim())) this.fail(`bad integer text '${s}'`);
    return toIntValue(BigInt(s.trim()));
  }

  /** Resolves a global, recording it as 'module name' the first time. */
  global(module: string, name: string): ResolvedGlobal {
    const key = `${module} ${name}`;
    if (!this.globals.includes(key)) this.globals.push(key);
    return this.resolve(module, name);
  }

  memoGet(idx: number): void {
    if (!this.memo.has(idx)) this.fail(`memo key ${idx} is not defined`);
    this.push(this.memo.get(idx));
  }

  setItems(target: unknown, kv: unknown[]): void {
    if (kv.length % 2 !== 0) this.fail('SETITEMS with an odd number of items');
    const map = target instanceof Map ? target : target instanceof PyObject ? target.dictItems : this.fail(`cannot set items on ${describe(target)}`);
    for (let i = 0; i < kv.length; i += 2) {
      const k = kv[i];
      if (k !== null && typeof k === 'object' && !isTuple(k)) this.fail(`unhashable dict key (${describe(k)})`);
      map.set(k, kv[i + 1]);
    }
  }

  appendItems(target: unknown, items: unknown[]): void {
    if (Array.isArray(target) && !isTuple(target)) (target as unknown[]).push(...items);
    else if (target instanceof PyObject) target.listItems.push(...items);
    else this.fail(`cannot append to ${describe(target)}`);
  }

  /** `cls.__new__(cls, *args)`: an inert PyObject, or the allow-listed constructor's value. */
  instantiate(cls: unknown, args: PyTuple, how: string): unknown {
    if (cls instanceof PyClassRef) return new PyObject(cls.qualname, args);
    // Allow-listed classes (OrderedDict, set...) behave as their constructor.
    if (cls instanceof PyCallable) return cls.call(args);
    return this.fail(`${how} of ${describe(cls)}, which is not a class`);
  }

  /** Pops `args` then the callable or class below it (REDUCE, NEWOBJ, NEWOBJ_EX); `args` must be a tuple. */
  popCall(opName: string): [unknown, PyTuple] {
    const args = this.pop();
    const fn = this.pop();
    if (!isTuple(args)) this.fail(`${opName} arguments are not a tuple`);
    return [fn, args as PyTuple];
  }

  /** `obj.__setstate__(state)`, or its `__dict__.update(state)`. */
  build(obj: unknown, state: unknown): void {
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
    this.fail(`BUILD on ${describe(obj)}`);
  }

  persistent(pid: unknown): void {
    if (!this.options.persistentLoad) this.fail('persistent ids are not allowed in this pickle');
    this.persistentIds++;
    this.push(this.options.persistentLoad!(pid));
  }
}

type Handler = (u: Unpickler) => void;

const refuseBuffers: Handler = (u) => u.fail('out-of-band pickle buffers are not supported');
const refuseExtensions: Handler = (u) => {
  throw new UnsafePickleError(`${u.src}: refusing pickle extension-registry opcode (EXT) at byte ${u.input.pos - 1}`);
};

/** One handler per opcode, as CPython's `_Unpickler.dispatch`; a byte not here is an unknown opcode. */
const dispatch: Partial<Record<number, Handler>> = {
  // Framing and control.
  [OP.PROTO]: (u) => {
    u.protocol = u.input.u8();
    if (u.protocol > HIGHEST_PROTOCOL) u.fail(`unsupported pickle protocol ${u.protocol}`);
  },
  [OP.FRAME]: (u) => void u.input.u64Length(), // frames only group opcodes for buffering
  [OP.STOP]: (u) => {
    if (u.stack.length !== 1) u.fail(`STOP with ${u.stack.length} values on the stack`);
    u.stopped = true;
  },
  [OP.MARK]: (u) => void u.marks.push(u.stack.length),
  [OP.POP]: (u) => {
    // POP right after MARK discards the mark, as CPython does.
    if (u.marks.length > 0 && u.stack.length === u.marks[u.marks.length - 1]) u.marks.pop();
    else u.pop();
  },
  [OP.POP_MARK]: (u) => void u.popMark(),
  [OP.DUP]: (u) => u.push(u.top()),

  // Constants and numbers.
  [OP.NONE]: (u) => u.push(null),
  [OP.NEWTRUE]: (u) => u.push(true),
  [OP.NEWFALSE]: (u) => u.push(false),
  [OP.BININT]: (u) => u.push(u.input.i32()),
  [OP.BININT1]: (u) => u.push(u.input.u8()),
  [OP.BININT2]: (u) => u.push(u.input.u16()),
  [OP.INT]: (u) => {
    // "01"/"00" are protocol-0 booleans.
    const s = u.input.line();
    u.push(s === '01' ? true : s === '00' ? false : u.intText(s));
  },
  [OP.LONG]: (u) => u.push(u.intText(u.input.line().replace(/L$/, ''))), // text with a trailing L
  [OP.LONG1]: (u) => u.push(longFromBytes(u.input.bytes(u.input.u8()))),
  [OP.LONG4]: (u) => {
    const n = u.input.i32();
    if (n < 0) u.fail('negative LONG4 length');
    u.push(longFromBytes(u.input.bytes(n)));
  },
  [OP.FLOAT]: (u) => {
    const v = Number(u.input.line());
    if (Number.isNaN(v)) u.fail('bad FLOAT text');
    u.push(v);
  },
  [OP.BINFLOAT]: (u) => u.push(u.input.f64be()),

  // Strings and bytes.
  [OP.STRING]: (u) => {
    // Protocol-0 quoted bytes.
    const s = u.input.line();
    const q = s[0];
    if (s.length < 2 || (q !== "'" && q !== '"') || s[s.length - 1] !== q) u.fail('bad STRING quoting');
    u.push(s.slice(1, -1));
  },
  [OP.BINSTRING]: (u) => {
    // A Python 2 str: treated as latin-1 text.
    const n = u.input.i32();
    if (n < 0) u.fail('negative BINSTRING length');
    u.push(Buffer.from(u.input.bytes(n)).toString('latin1'));
  },
  [OP.SHORT_BINSTRING]: (u) => u.push(Buffer.from(u.input.bytes(u.input.u8())).toString('latin1')),
  [OP.UNICODE]: (u) => {
    // raw-unicode-escape, protocol 0.
    u.push(u.input.line().replace(/\\u([0-9a-fA-F]{4})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))));
  },
  [OP.BINUNICODE]: (u) => u.push(u.utf8(u.input.bytes(u.input.u32()))),
  [OP.SHORT_BINUNICODE]: (u) => u.push(u.utf8(u.input.bytes(u.input.u8()))),
  [OP.BINUNICODE8]: (u) => u.push(u.utf8(u.input.bytes(u.input.u64Length()))),
  [OP.BINBYTES]: (u) => u.push(u.input.bytes(u.input.u32())),
  [OP.SHORT_BINBYTES]: (u) => u.push(u.input.bytes(u.input.u8())),
  [OP.BINBYTES8]: (u) => u.push(u.input.bytes(u.input.u64Length())),
  [OP.BYTEARRAY8]: (u) => u.push(Uint8Array.from(u.input.bytes(u.input.u64Length()))),
  [OP.NEXT_BUFFER]: refuseBuffers,
  [OP.READONLY_BUFFER]: refuseBuffers,

  // Lists, tuples, dicts, sets.
  [OP.EMPTY_LIST]: (u) => u.push([]),
  [OP.LIST]: (u) => u.push(u.popMark()),
  [OP.APPEND]: (u) => {
    const v = u.pop();
    u.appendItems(u.top(), [v]);
  },
  [OP.APPENDS]: (u) => {
    const items = u.popMark();
    u.appendItems(u.top(), items);
  },
  [OP.EMPTY_TUPLE]: (u) => u.push(tuple([])),
  [OP.TUPLE]: (u) => u.push(tuple(u.popMark())),
  [OP.TUPLE1]: (u) => u.push(tuple([u.pop()])),
  [OP.TUPLE2]: (u) => {
    const b = u.pop();
    const a = u.pop();
    u.push(tuple([a, b]));
  },
  [OP.TUPLE3]: (u) => {
    const c = u.pop();
    const b = u.pop();
    const a = u.pop();
    u.push(tuple([a, b, c]));
  },
  [OP.EMPTY_DICT]: (u) => u.push(new PyDict()),
  [OP.DICT]: (u) => {
    const d = new PyDict();
    u.setItems(d, u.popMark());
    u.push(d);
  },
  [OP.SETITEM]: (u) => {
    const v = u.pop();
    const k = u.pop();
    u.setItems(u.top(), [k, v]);
  },
  [OP.SETITEMS]: (u) => {
    const kv = u.popMark();
    u.setItems(u.top(), kv);
  },
  [OP.EMPTY_SET]: (u) => u.push(new Set()),
  [OP.ADDITEMS]: (u) => {
    const items = u.popMark();
    const s = u.top();
    if (!(s instanceof Set)) u.fail(`ADDITEMS on ${describe(s)}`);
    for (const it of items) (s as Set<unknown>).add(it);
  },
  [OP.FROZENSET]: (u) => u.push(new Set(u.popMark())),

  // Memo.
  [OP.PUT]: (u) => void u.memo.set(u.intText(u.input.line()) as number, u.top()),
  [OP.BINPUT]: (u) => void u.memo.set(u.input.u8(), u.top()),
  [OP.LONG_BINPUT]: (u) => void u.memo.set(u.input.u32(), u.top()),
  [OP.MEMOIZE]: (u) => void u.memo.set(u.memo.size, u.top()),
  [OP.GET]: (u) => u.memoGet(u.intText(u.input.line()) as number),
  [OP.BINGET]: (u) => u.memoGet(u.input.u8()),
  [OP.LONG_BINGET]: (u) => u.memoGet(u.input.u32()),

  // Globals, calls and objects.
  [OP.GLOBAL]: (u) => {
    // "module\nname\n"
    const module = u.input.line();
    const name = u.input.line();
    u.push(u.global(module, name));
  },
  [OP.STACK_GLOBAL]: (u) => {
    const name = u.pop();
    const module = u.pop();
    if (typeof module !== 'string' || typeof name !== 'string') u.fail('STACK_GLOBAL needs two strings');
    u.push(u.global(module as string, name as string));
  },
  [OP.REDUCE]: (u) => {
    // callable(*args)
    const [fn, args] = u.popCall('REDUCE');
    if (fn instanceof PyCallable) u.push(fn.call(args));
    else if (fn instanceof PyClassRef) {
      throw new UnsafePickleError(`${u.src}: refusing to call '${fn.qualname}' (pickle REDUCE to a callable that is not allow-listed)`, {
        hint: 'Only tensors, OrderedDicts, argparse.Namespace and plain Python data are read from checkpoints.',
      });
    } else u.fail(`REDUCE on ${describe(fn)}`);
  },
  [OP.NEWOBJ]: (u) => {
    // cls.__new__(cls, *args)
    const [cls, args] = u.popCall('NEWOBJ');
    u.push(u.instantiate(cls, args, 'NEWOBJ'));
  },
  [OP.NEWOBJ_EX]: (u) => {
    // cls.__new__(cls, *args, **kwargs); kwargs are dropped
    u.pop();
    const [cls, args] = u.popCall('NEWOBJ_EX');
    u.push(u.instantiate(cls, args, 'NEWOBJ_EX'));
  },
  [OP.OBJ]: (u) => {
    // MARK cls args... -> instance
    const items = u.popMark();
    if (items.length === 0) u.fail('OBJ without a class');
    u.push(u.instantiate(items[0], tuple(items.slice(1)), 'OBJ'));
  },
  [OP.INST]: (u) => {
    // "module\nname\n", MARK args... -> instance
    const module = u.input.line();
    const name = u.input.line();
    const cls = u.global(module, name);
    u.push(u.instantiate(cls, tuple(u.popMark()), 'INST'));
  },
  [OP.BUILD]: (u) => {
    const state = u.pop();
    u.build(u.top(), state);
  },
  [OP.PERSID]: (u) => u.persistent(u.input.line()),
  [OP.BINPERSID]: (u) => u.persistent(u.pop()),
  [OP.EXT1]: refuseExtensions,
  [OP.EXT2]: refuseExtensions,
  [OP.EXT4]: refuseExtensions,
};

/** LONG1/LONG4 payload: little-endian two's complement. */
function longFromBytes(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return toIntValue(v);
}

/** A number when exact, a bigint beyond 2^53. */
function toIntValue(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}
