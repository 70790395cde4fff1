/**
 * The TypeScript values a restricted unpickle produces (and the pickler
 * writes back): None -> null, bool, int -> number (bigint beyond 2^53),
 * float -> number, str -> string, bytes -> Uint8Array, list -> array,
 * tuple -> PyTuple (a frozen array), dict -> PyDict (a Map), set -> Set,
 * instances of classes we do not model -> PyObject, globals -> ResolvedGlobal.
 */

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
export function tuple(items: unknown[]): PyTuple {
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

/** A value's Python type, for error messages (never its contents). */
export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PyObject) return `instance of ${v.className}`;
  if (v instanceof PyDict) return v.className;
  if (v instanceof PyCallable || v instanceof PyClassRef || v instanceof PyGlobalValue) return v.qualname;
  if (isTuple(v)) return 'tuple';
  if (Array.isArray(v)) return 'list';
  return typeof v;
}
