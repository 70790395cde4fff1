/**
 * The unpickler's stack machine on hand-written pickles: what malformed input
 * is refused with (the exact message, with the byte offset), and the opcodes
 * CPython never writes in these shapes (items set on objects, non-dict BUILD
 * state, persistent ids, marks popped by POP).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PyCallable, PyDict, PyGlobalValue, PyObject, unpickle, UnsafePickleError } from '../../src/formats/pytorch/pickle.js';
import { InputError } from '../../src/util/errors.js';

/** Bytes from numbers (one byte each) and strings (latin-1 text). */
function p(...parts: Array<number | string>): Uint8Array {
  return Buffer.concat(parts.map((x) => (typeof x === 'number' ? Buffer.from([x]) : Buffer.from(x, 'latin1'))));
}
const PROTO2 = [0x80, 0x02];
const STOP = 0x2e;
const MARK = 0x28;
const EMPTY_TUPLE = 0x29;
const NONE = 0x4e;
const BININT1 = 0x4b;

const load = (bytes: Uint8Array, persistentLoad?: (pid: unknown) => unknown) => unpickle(bytes, { source: 'f.pkl', persistentLoad });

test('malformed pickles are refused with an InputError saying what and where', () => {
  const cases: Array<[string, Uint8Array, string]> = [
    ['empty', p(), 'corrupt pickle at byte 0: pickle ends without STOP'],
    ['no STOP', p(...PROTO2, NONE), 'corrupt pickle at byte 3: pickle ends without STOP'],
    ['ends right after an argument', p(BININT1, 5), 'corrupt pickle at byte 2: pickle ends without STOP'],
    ['protocol 6', p(0x80, 6, NONE, STOP), 'corrupt pickle at byte 2: unsupported pickle protocol 6'],
    ['two values at STOP', p(NONE, NONE, STOP), 'corrupt pickle at byte 3: STOP with 2 values on the stack'],
    ['nothing at STOP', p(STOP), 'corrupt pickle at byte 1: STOP with 0 values on the stack'],
    ['truncated BININT', p(0x4a, 1, 2, 3), 'corrupt pickle at byte 1: needs 4 more bytes, the pickle ends at 4'],
    ['truncated BININT2', p(0x4d, 1), 'corrupt pickle at byte 1: needs 2 more bytes, the pickle ends at 2'],
    ['truncated BININT1', p(BININT1), 'corrupt pickle at byte 1: needs 1 more bytes, the pickle ends at 1'],
    ['truncated BINFLOAT', p(0x47, 0, 0, 0, 0, 0, 0, 0), 'corrupt pickle at byte 1: needs 8 more bytes, the pickle ends at 8'],
    ['BINUNICODE past the end', p(0x58, 5, 0, 0, 0, 'ab'), 'corrupt pickle at byte 5: needs 5 more bytes, the pickle ends at 7'],
    ['BINBYTES8 length', p(0x8e, 0xff, 0xff, 0, 0, 0, 0, 0, 0, STOP), 'corrupt pickle at byte 9: length 65535 exceeds the pickle size'],
    ['FRAME length', p(0x80, 4, 0x95, 100, 0, 0, 0, 0, 0, 0, 0, NONE, STOP), 'corrupt pickle at byte 11: length 100 exceeds the pickle size'],
    ['unterminated line', p('I12'), 'corrupt pickle at byte 1: unterminated text line'],
    ['bad INT text', p('I1x\n.'), "corrupt pickle at byte 4: bad integer text '1x'"],
    ['INT text with a prefix', p('Ix12\n.'), "corrupt pickle at byte 5: bad integer text 'x12'"],
    ['LONG text with an inner L', p('L1L2L\n.'), "corrupt pickle at byte 6: bad integer text '1L2'"],
    ['bad PUT index', p(NONE, 'p\n.'), "corrupt pickle at byte 3: bad integer text ''"],
    ['bad FLOAT text', p('Fabc\n.'), 'corrupt pickle at byte 5: bad FLOAT text'],
    ['bad UTF-8', p(0x8c, 2, 0xc3, 0x28, STOP), 'corrupt pickle at byte 4: invalid UTF-8 in a string'],
    ['negative LONG4', p(0x8b, 0xff, 0xff, 0xff, 0xff, STOP), 'corrupt pickle at byte 5: negative LONG4 length'],
    ['negative BINSTRING', p(0x54, 0xff, 0xff, 0xff, 0xff, STOP), 'corrupt pickle at byte 5: negative BINSTRING length'],
    ['STRING unquoted', p("Sabc\n."), 'corrupt pickle at byte 5: bad STRING quoting'],
    ['STRING mismatched quotes', p("S'abc\"\n."), 'corrupt pickle at byte 7: bad STRING quoting'],
    ['STRING open quote only', p("S'\n."), 'corrupt pickle at byte 3: bad STRING quoting'],
    ['STRING no closing quote', p("S'ab\n."), 'corrupt pickle at byte 5: bad STRING quoting'],
    ['STRING framed by a letter', p('Sxyx\n.'), 'corrupt pickle at byte 5: bad STRING quoting'],
    ['underflow', p(0x52, STOP), 'corrupt pickle at byte 1: stack underflow'],
    ['pop below a mark', p(NONE, MARK, 0x85, STOP), 'corrupt pickle at byte 3: stack underflow'],
    ['DUP on empty stack', p(0x32, STOP), 'corrupt pickle at byte 1: stack underflow'],
    ['POP on empty stack', p(0x30, STOP), 'corrupt pickle at byte 1: stack underflow'],
    ['APPEND to nothing', p(NONE, 0x61, STOP), 'corrupt pickle at byte 2: stack underflow'],
    ['POP_MARK without MARK', p(0x31, STOP), 'corrupt pickle at byte 1: no MARK on the stack'],
    ['LIST without MARK', p(0x6c, STOP), 'corrupt pickle at byte 1: no MARK on the stack'],
    ['undefined memo key', p(0x68, 5, STOP), 'corrupt pickle at byte 2: memo key 5 is not defined'],
    ['undefined LONG_BINGET key', p(0x6a, 1, 0, 1, 0, STOP), 'corrupt pickle at byte 5: memo key 65537 is not defined'],
    ['undefined text GET key', p('g3\n.'), 'corrupt pickle at byte 3: memo key 3 is not defined'],
    ['unknown opcode', p(0xff, STOP), 'corrupt pickle at byte 1: unknown opcode 0xff'],
    ['unknown low opcode', p(0x0a, STOP), 'corrupt pickle at byte 1: unknown opcode 0x0a'],
    ['out-of-band buffer', p(0x97, STOP), 'corrupt pickle at byte 1: out-of-band pickle buffers are not supported'],
    ['read-only buffer', p(0x98, STOP), 'corrupt pickle at byte 1: out-of-band pickle buffers are not supported'],
    ['persistent id without a loader', p(NONE, 0x51, STOP), 'corrupt pickle at byte 2: persistent ids are not allowed in this pickle'],
    ['text persistent id without a loader', p('Pabc\n.'), 'corrupt pickle at byte 5: persistent ids are not allowed in this pickle'],
    ['STACK_GLOBAL of non-strings', p(BININT1, 1, BININT1, 2, 0x93, STOP), 'corrupt pickle at byte 5: STACK_GLOBAL needs two strings'],
    ['STACK_GLOBAL name not a string', p(0x8c, 1, 'm', BININT1, 2, 0x93, STOP), 'corrupt pickle at byte 6: STACK_GLOBAL needs two strings'],
    ['STACK_GLOBAL module not a string', p(BININT1, 1, 0x8c, 1, 'n', 0x93, STOP), 'corrupt pickle at byte 6: STACK_GLOBAL needs two strings'],
    ['REDUCE args not a tuple', p('c__main__\nT\n', NONE, 0x52, STOP), 'corrupt pickle at byte 14: REDUCE arguments are not a tuple'],
    ['REDUCE on None', p(NONE, EMPTY_TUPLE, 0x52, STOP), 'corrupt pickle at byte 3: REDUCE on None'],
    ['NEWOBJ args not a tuple', p('c__main__\nT\n', 0x5d, 0x81, STOP), 'corrupt pickle at byte 14: NEWOBJ arguments are not a tuple'],
    ['NEWOBJ of a number', p(BININT1, 5, EMPTY_TUPLE, 0x81, STOP), 'corrupt pickle at byte 4: NEWOBJ of number, which is not a class'],
    ['NEWOBJ_EX args not a tuple', p('c__main__\nT\n', 0x5d, 0x7d, 0x92, STOP), 'corrupt pickle at byte 15: NEWOBJ_EX arguments are not a tuple'],
    ['NEWOBJ_EX of a list', p(0x5d, EMPTY_TUPLE, 0x7d, 0x92, STOP), 'corrupt pickle at byte 4: NEWOBJ_EX of list, which is not a class'],
    ['OBJ without a class', p(MARK, 0x6f, STOP), 'corrupt pickle at byte 2: OBJ without a class'],
    ['OBJ of a string', p(MARK, 0x8c, 1, 'x', 0x6f, STOP), 'corrupt pickle at byte 5: OBJ of string, which is not a class'],
    ['SETITEMS odd', p(0x7d, MARK, BININT1, 1, 0x75, STOP), 'corrupt pickle at byte 5: SETITEMS with an odd number of items'],
    ['DICT odd', p(MARK, BININT1, 1, 0x64, STOP), 'corrupt pickle at byte 4: SETITEMS with an odd number of items'],
    ['SETITEM on a list', p(0x5d, BININT1, 1, BININT1, 2, 0x73, STOP), 'corrupt pickle at byte 6: cannot set items on list'],
    ['SETITEM on a tuple', p(EMPTY_TUPLE, BININT1, 1, BININT1, 2, 0x73, STOP), 'corrupt pickle at byte 6: cannot set items on tuple'],
    ['unhashable key', p(0x7d, 0x5d, BININT1, 2, 0x73, STOP), 'corrupt pickle at byte 5: unhashable dict key (list)'],
    ['unhashable dict key', p(0x7d, 0x7d, BININT1, 2, 0x73, STOP), 'corrupt pickle at byte 5: unhashable dict key (dict)'],
    ['APPEND to a tuple', p(EMPTY_TUPLE, BININT1, 1, 0x61, STOP), 'corrupt pickle at byte 4: cannot append to tuple'],
    ['APPENDS to a dict', p(0x7d, MARK, BININT1, 1, 0x65, STOP), 'corrupt pickle at byte 5: cannot append to dict'],
    ['ADDITEMS on a list', p(0x5d, MARK, BININT1, 1, 0x90, STOP), 'corrupt pickle at byte 5: ADDITEMS on list'],
    ['BUILD on a number', p(BININT1, 1, 0x7d, 0x62, STOP), 'corrupt pickle at byte 4: BUILD on number'],
    ['BUILD on a list', p(0x5d, 0x7d, 0x62, STOP), 'corrupt pickle at byte 3: BUILD on list'],
    ['BUILD on None', p(NONE, 0x7d, 0x62, STOP), 'corrupt pickle at byte 3: BUILD on None'],
  ];
  for (const [label, bytes, message] of cases) {
    assert.throws(
      () => load(bytes),
      (e: unknown) => e instanceof InputError && !(e instanceof UnsafePickleError) && e.message === `f.pkl: ${message}`,
      label,
    );
  }
});

test('extension-registry opcodes are refused as unsafe, with the offset', () => {
  for (const [op, at] of [[0x82, 2], [0x83, 3], [0x84, 1]] as const) {
    const bytes = at === 1 ? p(op, 1, STOP) : at === 2 ? p(NONE, 0x30, op, 1, STOP) : p(...PROTO2, NONE, op, 1, 0, STOP);
    const offset = at === 1 ? 0 : at === 2 ? 2 : 3;
    assert.throws(
      () => load(bytes),
      (e: unknown) => e instanceof UnsafePickleError && e.message === `f.pkl: refusing pickle extension-registry opcode (EXT) at byte ${offset}`,
      `0x${op.toString(16)}`,
    );
  }
});

test('POP removes an empty MARK instead of a value', () => {
  assert.equal(load(p(BININT1, 7, MARK, 0x30, STOP)).value, 7);
  // A MARK with values above it is not popped: POP takes the value.
  assert.equal(load(p(BININT1, 7, MARK, BININT1, 8, 0x30, 0x31, STOP)).value, 7);
});

test('integers: unsigned BININT1/BININT2, signed BININT, two-complement LONG1, text INT and LONG', () => {
  assert.equal(load(p(BININT1, 0xff, STOP)).value, 255);
  assert.equal(load(p(0x4d, 0xff, 0xff, STOP)).value, 65535);
  assert.equal(load(p(0x4a, 0xff, 0xff, 0xff, 0xff, STOP)).value, -1);
  assert.equal(load(p(0x4a, 0x00, 0x00, 0x00, 0x80, STOP)).value, -(2 ** 31));
  assert.equal(load(p(0x8a, 1, 0xff, STOP)).value, -1);
  assert.equal(load(p(0x8a, 1, 0x7f, STOP)).value, 127);
  assert.equal(load(p(0x8a, 2, 0x00, 0x80, STOP)).value, -32768);
  assert.equal(load(p(0x8a, 8, 0, 0, 0, 0, 0, 0, 0x20, 0, STOP)).value, 2n ** 53n); // beyond 2^53 - 1: a bigint
  assert.equal(load(p(0x8a, 8, 1, 0, 0, 0, 0, 0, 0x20, 0, STOP)).value, 2n ** 53n + 1n);
  assert.equal(load(p(0x8a, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xdf, 0xff, STOP)).value, -(2n ** 53n) - 1n);
  assert.equal(load(p(0x8a, 7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, STOP)).value, Number.MAX_SAFE_INTEGER);
  assert.equal(load(p(0x8a, 7, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, STOP)).value, Number.MIN_SAFE_INTEGER);
  assert.equal(load(p('I -12 \n.')).value, -12);
  assert.equal(load(p('I+5\n.')).value, 5);
  assert.equal(load(p('I99999999999999999999\n.')).value, 99999999999999999999n);
  assert.equal(load(p('L7L\n.')).value, 7);
  assert.equal(load(p('L7\n.')).value, 7);
  assert.throws(() => load(p('L7LL\n.')), /bad integer text '7L'/);
});

test('lengths that fit exactly are accepted: zero-length LONG4 and BINSTRING, a FRAME as long as the pickle', () => {
  assert.equal(load(p(0x8b, 0, 0, 0, 0, STOP)).value, 0);
  assert.equal(load(p(0x54, 0, 0, 0, 0, STOP)).value, '');
  // 13 bytes: PROTO 4, FRAME with length 13, NONE, STOP.
  assert.equal(load(p(0x80, 4, 0x95, 13, 0, 0, 0, 0, 0, 0, 0, NONE, STOP)).value, null);
});

test('text strings: quoted STRING keeps its inner text, UNICODE decodes \\u escapes only', () => {
  assert.equal(load(p("S'a\"b'\n.")).value, 'a"b');
  assert.equal(load(p('S""\n.')).value, '');
  assert.equal(load(p('V\\u0041\\u00E9\\x41\n.')).value, 'A\u00e9\\x41');
  assert.equal(load(p('V\\u004\n.')).value, '\\u004');
  assert.equal(load(p(0x55, 2, 0xe9, 0xff, STOP)).value, '\u00e9\u00ff');
  assert.equal(load(p(0x8d, 1, 0, 0, 0, 0, 0, 0, 0, 'z', STOP)).value, 'z');
  assert.deepEqual(load(p(0x96, 2, 0, 0, 0, 0, 0, 0, 0, 'ab', STOP)).value, Uint8Array.from([0x61, 0x62]));
});

test('persistent ids go to the loader (text PERSID as a string, BINPERSID as the popped value) and are counted', () => {
  const seen: unknown[] = [];
  const loader = (pid: unknown) => {
    seen.push(pid);
    return { storage: seen.length };
  };
  const r = load(p(...PROTO2, MARK, 'Pabc\n', 0x8c, 1, 'k', 0x85, 0x51, 0x74, STOP), loader);
  assert.deepEqual(seen, ['abc', ['k']]);
  assert.deepEqual(r.value, [{ storage: 1 }, { storage: 2 }]);
  assert.equal(r.persistentIds, 2);
  assert.equal(r.protocol, 2);
  assert.equal(load(p(NONE, STOP)).persistentIds, 0);
});

test('objects of unknown classes collect BUILD state, appended items and set items as data', () => {
  const thing = 'c__main__\nThing\n';
  // BUILD with a non-dict state keeps it as `state`.
  const withList = load(p(thing, EMPTY_TUPLE, 0x81, 0x5d, BININT1, 1, 0x61, 0x62, STOP)).value as PyObject;
  assert.deepEqual(withList.state, [1]);
  assert.deepEqual(withList.attrs, {});
  // BUILD with None leaves state undefined; a (dict, slots) pair fills attrs from both.
  const withNone = load(p(thing, EMPTY_TUPLE, 0x81, NONE, 0x62, STOP)).value as PyObject;
  assert.equal(withNone.state, undefined);
  const pair = load(p(thing, EMPTY_TUPLE, 0x81, 0x7d, 0x8c, 1, 'a', BININT1, 1, 0x73, 0x7d, 0x8c, 1, 'b', BININT1, 2, 0x73, 0x86, 0x62, STOP)).value as PyObject;
  assert.deepEqual(pair.attrs, { a: 1, b: 2 });
  // A 2-tuple whose second item is not a dict: the first is the dict state, the second is ignored.
  const odd = load(p(thing, EMPTY_TUPLE, 0x81, 0x7d, 0x8c, 1, 'a', BININT1, 1, 0x73, BININT1, 9, 0x86, 0x62, STOP)).value as PyObject;
  assert.deepEqual(odd.attrs, { a: 1 });
  assert.equal(odd.state, undefined);
  // A 3-tuple is not a (dict, slots) pair: it is kept as state.
  const triple = load(p(thing, EMPTY_TUPLE, 0x81, BININT1, 1, BININT1, 2, BININT1, 3, 0x87, 0x62, STOP)).value as PyObject;
  assert.deepEqual(triple.state, [1, 2, 3]);
  // APPEND/APPENDS and SETITEM/SETITEMS on an object (list and dict subclasses).
  const items = load(p(thing, EMPTY_TUPLE, 0x81, BININT1, 1, 0x61, MARK, BININT1, 2, BININT1, 3, 0x65, BININT1, 4, BININT1, 5, 0x73, MARK, BININT1, 6, BININT1, 7, 0x75, STOP)).value as PyObject;
  assert.deepEqual(items.listItems, [1, 2, 3]);
  assert.deepEqual([...items.dictItems], [[4, 5], [6, 7]]);
  // INST and OBJ pass their arguments to the inert instance.
  const inst = load(p(MARK, BININT1, 1, BININT1, 2, 'i__main__\nThing\n', STOP)).value as PyObject;
  assert.equal(inst.className, '__main__.Thing');
  assert.deepEqual(inst.args, [1, 2]);
  const obj = load(p(MARK, thing, BININT1, 3, 0x6f, STOP)).value as PyObject;
  assert.deepEqual(obj.args, [3]);
});

test('BUILD on a dict keeps attributes (state_dict _metadata); tuples are frozen, lists are not; dict keys may be tuples', () => {
  const od = load(p('ccollections\nOrderedDict\n', EMPTY_TUPLE, 0x52, 0x7d, 0x8c, 9, '_metadata', BININT1, 1, 0x73, 0x62, STOP)).value as PyDict;
  assert.deepEqual(od.attrs, { _metadata: 1 });
  assert.equal(od.size, 0);
  const plain = load(p(0x7d, BININT1, 1, 0x62, STOP)).value as PyDict;
  assert.deepEqual(plain.attrs, {});
  const t = load(p(BININT1, 1, 0x85, STOP)).value as unknown[];
  assert.ok(Object.isFrozen(t));
  assert.ok(!Object.isFrozen(load(p(0x5d, STOP)).value));
  const d = load(p(0x7d, BININT1, 1, 0x85, NONE, 0x73, NONE, BININT1, 2, 0x73, STOP)).value as PyDict;
  assert.equal(d.size, 2);
  assert.equal(d.get(null), 2);
  // EMPTY_SET then ADDITEMS.
  assert.deepEqual(load(p(0x8f, MARK, BININT1, 1, BININT1, 1, 0x90, STOP)).value, new Set([1]));
});

test('globals are listed once, in first-use order; PROTO is reported', () => {
  const r = load(p(0x80, 3, MARK, 'c__main__\nA\n', 'c__main__\nB\n', 'c__main__\nA\n', 0x74, STOP));
  assert.deepEqual(r.globals, ['__main__ A', '__main__ B']);
  assert.equal(r.protocol, 3);
  assert.equal(load(p(NONE, STOP)).protocol, 0);
});

test('allow-listed classes instantiate through their constructor; objects with setState take BUILD state', () => {
  // NEWOBJ of collections.OrderedDict (an allow-listed callable) builds the dict itself.
  const od = load(p('ccollections\nOrderedDict\n', EMPTY_TUPLE, 0x81, STOP)).value;
  assert.ok(od instanceof PyDict && od.className === 'collections.OrderedDict');
  // A resolver may return objects that take their state themselves (as torch storages do).
  const states: unknown[] = [];
  const withState = new PyCallable('m.Stateful', () => ({ setState: (s: unknown) => states.push(s) }));
  const resolveGlobal = (m: string, n: string) => (n === 'Stateful' ? withState : new PyGlobalValue(`${m}.${n}`, 7));
  const built = unpickle(p('cm\nStateful\n', EMPTY_TUPLE, 0x52, BININT1, 9, 0x62, STOP), { source: 'f.pkl', resolveGlobal }).value;
  assert.deepEqual(states, [9]);
  assert.equal(typeof (built as { setState: unknown }).setState, 'function');
  // An object whose setState is not a function is not one of them.
  const fake = new PyCallable('m.Fake', () => ({ setState: 5 }));
  assert.throws(
    () => unpickle(p('cm\nFake\n', EMPTY_TUPLE, 0x52, BININT1, 9, 0x62, STOP), { source: 'f.pkl', resolveGlobal: () => fake }),
    (e: unknown) => e instanceof InputError && e.message === 'f.pkl: corrupt pickle at byte 13: BUILD on object',
  );
  // A global that is a plain value cannot be instantiated.
  assert.throws(
    () => unpickle(p(MARK, 'im\nValue\n', STOP), { source: 'f.pkl', resolveGlobal }),
    (e: unknown) => e instanceof InputError && e.message === 'f.pkl: corrupt pickle at byte 10: INST of m.Value, which is not a class',
  );
});
