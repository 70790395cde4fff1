/**
 * Which pickle globals the restricted unpickler accepts, and what they become.
 *
 * GLOBAL/REDUCE are how `torch.load` runs code from a file, so every global a
 * pickle names is decided here, when it is loaded:
 * - names from modules that can run code (os, subprocess, builtins.eval...),
 *   and dunder names, are refused at once, naming the global;
 * - allow-listed names become TypeScript stand-ins (PyCallable: build a set,
 *   an OrderedDict, bytes...);
 * - any other name becomes a PyClassRef: instantiating it gives an inert
 *   PyObject holding its state, calling it (REDUCE) is refused by the unpickler.
 * torch's own globals (tensor rebuilds, storage types) are added on top by
 * checkpoint.ts.
 */
import { InputError } from '../../util/errors.js';
import { PyCallable, PyClassRef, PyDict, PyObject, describe, type ResolvedGlobal } from './pickle-values.js';

/** Thrown for anything that would make Python run code or that we refuse to model. */
export class UnsafePickleError extends InputError {}

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
