/**
 * Which pickle globals the restricted unpickler accepts, decided when the
 * global is *loaded*: these pickles only reference their global and never call
 * it, so a refusal can only come from the load-time rules (deny-listed modules,
 * non-data builtins, dunder names), not from the REDUCE-time refusal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PyCallable,
  PyClassRef,
  PyDict,
  PyObject,
  resolvePythonGlobal,
  unpickle,
  UnsafePickleError,
} from '../../src/formats/pytorch/pickle.js';
import { InputError } from '../../src/util/errors.js';

/** Protocol 2: GLOBAL module name, then STOP; the global is pushed and returned, never called. */
function referenceOnly(module: string, name: string): Uint8Array {
  return Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.from(`c${module}\n${name}\n`, 'latin1'), Buffer.from([0x2e])]);
}

/** Protocol 4: the same with STACK_GLOBAL. */
function stackReferenceOnly(module: string, name: string): Uint8Array {
  const s = (t: string): Buffer => Buffer.concat([Buffer.from([0x8c, Buffer.byteLength(t)]), Buffer.from(t)]);
  return Buffer.concat([Buffer.from([0x80, 0x04]), s(module), s(name), Buffer.from([0x93, 0x2e])]);
}

function refused(module: string, name: string): void {
  for (const pkl of [referenceOnly(module, name), stackReferenceOnly(module, name)]) {
    assert.throws(
      () => unpickle(pkl, { source: 'evil.pkl' }),
      (e: unknown) =>
        e instanceof UnsafePickleError &&
        e.message === `evil.pkl: refusing pickle global '${module}.${name}': loading it could run code` &&
        /not a plain checkpoint/.test(e.hint ?? ''),
      `${module}.${name} must be refused when it is only referenced`,
    );
  }
}

function accepted(module: string, name: string): unknown {
  const a = unpickle(referenceOnly(module, name), { source: 'ok.pkl' }).value;
  const b = unpickle(stackReferenceOnly(module, name), { source: 'ok.pkl' }).value;
  assert.equal((a as { qualname: string }).qualname, `${module}.${name}`);
  assert.equal((b as { qualname: string }).qualname, `${module}.${name}`);
  return a;
}

// Modules whose members can run code, touch files, processes or the network, or load
// other pickles (Python standard library, the usual third-party loaders, torch internals).
const DANGEROUS: Array<[string, string]> = [
  ['os', 'system'], ['posix', 'system'], ['nt', 'system'], ['subprocess', 'Popen'], ['sys', 'exit'],
  ['shutil', 'rmtree'], ['socket', 'socket'], ['importlib', 'import_module'], ['pickle', 'loads'],
  ['_pickle', 'loads'], ['marshal', 'loads'], ['runpy', 'run_path'], ['code', 'interact'],
  ['codeop', 'compile_command'], ['pty', 'spawn'], ['ctypes', 'CDLL'], ['webbrowser', 'open'],
  ['multiprocessing', 'Process'], ['threading', 'Thread'], ['signal', 'signal'], ['io', 'open'],
  ['tempfile', 'mktemp'], ['pathlib', 'Path'], ['urllib', 'urlopen'], ['http', 'client'], ['ftplib', 'FTP'],
  ['smtplib', 'SMTP'], ['telnetlib', 'Telnet'], ['asyncio', 'create_subprocess_shell'], ['types', 'FunctionType'],
  ['inspect', 'getsource'], ['operator', 'attrgetter'], ['functools', 'partial'], ['timeit', 'timeit'],
  ['pdb', 'run'], ['bdb', 'Bdb'], ['trace', 'Trace'], ['profile', 'run'], ['cProfile', 'run'],
  ['platform', 'popen'], ['commands', 'getoutput'], ['popen2', 'popen2'], ['dill', 'loads'],
  ['cloudpickle', 'loads'], ['joblib', 'load'], ['torch.hub', 'load'], ['torch.serialization', 'load'],
  ['torch.jit', 'load'], ['torch._C', '_jit_pass'], ['torch.ops', 'aten'], ['torch.utils.cpp_extension', 'load_inline'],
  ['numpy.testing', 'rundocs'], ['pip', 'main'], ['setuptools', 'setup'], ['distutils', 'spawn'],
];

test('every code-running module is refused at load time, by GLOBAL and STACK_GLOBAL', () => {
  for (const [module, name] of DANGEROUS) refused(module, name);
});

test('submodules of a refused module are refused too, however deep', () => {
  refused('os.path', 'join'); // the top-level module is denied
  refused('urllib.request', 'urlopen');
  refused('torch.hub.helpers', 'load'); // a denied dotted module is a prefix
  refused('torch.utils.cpp_extension.x', 'load');
  refused('torch._C._nn', 'gelu');
  // ...but a module that merely starts with the same letters is not one of them.
  assert.ok(accepted('osgeo', 'Thing') instanceof PyClassRef);
  assert.ok(accepted('torch.hubble', 'Thing') instanceof PyClassRef);
  assert.ok(accepted('torch', 'FloatStorage') instanceof PyClassRef);
});

test('builtins: only plain data constructors are accepted, under both spellings', () => {
  for (const module of ['builtins', '__builtin__']) {
    for (const name of ['getattr', 'setattr', 'delattr', 'eval', 'exec', 'compile', 'open', 'input', 'globals', 'vars', 'breakpoint', '__import__', 'apply', 'execfile', 'memoryview', 'type', 'print']) {
      refused(module, name);
    }
    for (const name of ['set', 'frozenset', 'list', 'dict', 'tuple', 'bytearray', 'bytes', 'slice', 'complex', 'object', 'int', 'float', 'str', 'bool', 'range']) {
      accepted(module, name);
    }
  }
});

test('the allow-listed names are special only in their own module; other builtins are inert references', () => {
  for (const [module, name] of [['mymod', 'set'], ['mymod', 'list'], ['mymod', 'dict'], ['mymod', 'bytes'], ['mymod', 'OrderedDict'], ['mymod', 'encode'], ['mymod', '_reconstructor']]) {
    assert.ok(accepted(module, name) instanceof PyClassRef, `${module}.${name}`);
  }
  for (const name of ['int', 'float', 'str', 'bool', 'range', 'slice', 'complex', 'object']) {
    assert.ok(accepted('builtins', name) instanceof PyClassRef, `builtins.${name}`);
  }
  for (const name of ['set', 'frozenset', 'list', 'tuple', 'dict', 'bytearray', 'bytes']) {
    assert.ok(accepted('builtins', name) instanceof PyCallable, `builtins.${name}`);
  }
});

test('dunder names are refused in any module; names with underscores on one side only are not dunders', () => {
  refused('collections', '__builtins__');
  refused('__main__', '__getattribute__');
  refused('numpy', '__loader__');
  refused('m', '____');
  assert.ok(accepted('__main__', '__Private') instanceof PyClassRef);
  assert.ok(accepted('__main__', 'trailing__') instanceof PyClassRef);
  assert.ok(accepted('__main__', '_x_') instanceof PyClassRef);
});

test('an unknown class is an inert reference: it can be instantiated as data, never called', () => {
  const ref = accepted('__main__', 'MLPClassifier');
  assert.ok(ref instanceof PyClassRef);
  // GLOBAL, then (1,) and REDUCE: a call.
  const call = Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.from('c__main__\nMLPClassifier\n', 'latin1'), Buffer.from([0x4b, 1, 0x85, 0x52, 0x2e])]);
  assert.throws(
    () => unpickle(call, { source: 'm.pth' }),
    (e: unknown) =>
      e instanceof UnsafePickleError &&
      e.message === "m.pth: refusing to call '__main__.MLPClassifier' (pickle REDUCE to a callable that is not allow-listed)" &&
      /Only tensors, OrderedDicts, argparse.Namespace and plain Python data/.test(e.hint ?? ''),
  );
});

test('copyreg: only _reconstructor, and only of a class', () => {
  for (const module of ['copyreg', 'copy_reg']) {
    assert.throws(() => resolvePythonGlobal(module, '_reconstructor_x', 's'), (e: unknown) => e instanceof UnsafePickleError && e.message === `s: refusing pickle global '${module}._reconstructor_x'`);
    assert.throws(() => resolvePythonGlobal(module, '__newobj__', 's'), UnsafePickleError);
    const rec = resolvePythonGlobal(module, '_reconstructor', 's');
    assert.ok(rec instanceof PyCallable);
    assert.throws(() => rec.call(Object.freeze([5, null, null])), (e: unknown) => e instanceof UnsafePickleError && e.message === 's: copyreg._reconstructor of a non-class');
    const obj = rec.call(Object.freeze([new PyClassRef('m.C'), new PyClassRef('builtins.object'), 7]));
    assert.ok(obj instanceof PyObject);
    assert.equal(obj.className, 'm.C');
    assert.deepEqual(obj.args, [7]);
  }
});

test('_codecs.encode is accepted only as latin-1 text to bytes', () => {
  const enc = resolvePythonGlobal('_codecs', 'encode', 's');
  assert.ok(enc instanceof PyCallable);
  assert.deepEqual(enc.call(Object.freeze(['\u00e9A\u0100', 'latin1'])), Uint8Array.from([0xe9, 0x41, 0x00]));
  assert.deepEqual(enc.call(Object.freeze(['z', 'latin-1'])), Uint8Array.from([0x7a]));
  for (const args of [['x', 'utf-8'], [5, 'latin1'], ['x']]) {
    assert.throws(
      () => enc.call(Object.freeze(args)),
      (e: unknown) => e instanceof UnsafePickleError && e.message === "s: _codecs.encode is only accepted with a str and 'latin1'",
      JSON.stringify(args),
    );
  }
  // Another _codecs member is only an inert reference.
  assert.ok(resolvePythonGlobal('_codecs', 'decode', 's') instanceof PyClassRef);
});

test('the data constructors build their values; a wrong argument is an InputError naming its type', () => {
  const call = (module: string, name: string, ...args: unknown[]) => (resolvePythonGlobal(module, name, 'f.pkl') as PyCallable).call(Object.freeze(args));
  assert.deepEqual(call('builtins', 'set'), new Set());
  assert.deepEqual(call('builtins', 'frozenset', [1, 1, 2]), new Set([1, 2]));
  assert.deepEqual(call('builtins', 'list'), []);
  assert.deepEqual(call('builtins', 'list', new Set([3, 4])), [3, 4]);
  assert.deepEqual(call('builtins', 'tuple', new Map([['k', 1]])), ['k']);
  const d = call('builtins', 'dict');
  assert.ok(d instanceof PyDict && d.className === 'dict' && d.size === 0);
  assert.deepEqual(call('__builtin__', 'bytes', Uint8Array.of(1, 2)), Uint8Array.of(1, 2));
  assert.deepEqual(call('builtins', 'bytearray', 'not bytes'), new Uint8Array(0));
  const od = call('collections', 'OrderedDict', [Object.freeze(['a', 1]), ['b', 2]]);
  assert.ok(od instanceof PyDict);
  assert.equal(od.className, 'collections.OrderedDict');
  assert.deepEqual([...od.entries()], [['a', 1], ['b', 2]]);
  assert.equal((call('collections', 'OrderedDict') as PyDict).size, 0);
  // Other collections members are inert references.
  assert.ok(resolvePythonGlobal('collections', 'defaultdict', 's') instanceof PyClassRef);

  const describes: Array<[unknown, string]> = [
    [5, 'number'],
    [null, 'None'],
    ['s', 'string'],
    [new PyObject('m.C'), 'instance of m.C'],
    [new PyDict('collections.OrderedDict'), 'collections.OrderedDict'],
    [new PyClassRef('m.K'), 'm.K'],
    [7n, 'bigint'],
  ];
  for (const [arg, what] of describes) {
    // A dict is iterable (its keys); everything else here is not.
    if (arg instanceof PyDict) continue;
    assert.throws(
      () => call('builtins', 'set', arg),
      (e: unknown) => e instanceof InputError && !(e instanceof UnsafePickleError) && e.message === `f.pkl: pickle expected an iterable, got ${what}`,
      what,
    );
  }
  for (const pair of [[1, 2, 3], 'ab', Object.freeze(['k'])]) {
    assert.throws(() => call('collections', 'OrderedDict', [pair]), (e: unknown) => e instanceof InputError && e.message === 'f.pkl: pickle expected (key, value) pairs');
  }
});

test('a custom resolver replaces the Python rules, and sees every global', () => {
  const seen: string[] = [];
  const r = unpickle(referenceOnly('os', 'system'), {
    source: 'x',
    resolveGlobal: (m, n) => {
      seen.push(`${m}.${n}`);
      return new PyClassRef('safe.Stub');
    },
  });
  assert.deepEqual(seen, ['os.system']);
  assert.equal((r.value as PyClassRef).qualname, 'safe.Stub');
  assert.deepEqual(r.globals, ['os system']);
});
