/**
 * The restricted unpickler against CPython's own pickles: every protocol (0-5)
 * for scalars, strings, bytes, containers, sets, shared references and objects
 * of unknown classes, plus hand-written pickles for opcodes CPython 3 no longer
 * writes. The oracle is what CPython's `pickle.loads` read from the same bytes
 * (data/python_pickles.json, made by data/make_python_pickles.py).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isTuple, PyDict, PyObject, unpickle } from '../../src/formats/pytorch/pickle.js';

type Tagged = null | boolean | [string, ...unknown[]];
interface Case {
  name: string;
  hex: string;
  expect: Tagged;
}

const data = JSON.parse(readFileSync(new URL('./data/python_pickles.json', import.meta.url), 'utf8')) as { cases: Case[] };

function pyFloat(repr: string): number {
  if (repr === 'inf') return Infinity;
  if (repr === '-inf') return -Infinity;
  if (repr === 'nan') return NaN;
  return Number(repr);
}

/** Asserts that the unpickled `actual` is the value CPython described as `expect`. */
function check(actual: unknown, expect: Tagged, where: string): void {
  if (expect === null || typeof expect === 'boolean') {
    assert.equal(actual, expect, where);
    return;
  }
  const [tag, a, b] = expect;
  switch (tag) {
    case 'int': {
      const n = BigInt(a as string);
      const safe = n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER);
      // Python ints within 2^53 come back as numbers, larger ones as bigints.
      assert.equal(actual, safe ? Number(n) : n, where);
      return;
    }
    case 'float':
      assert.ok(Object.is(actual, pyFloat(a as string)), `${where}: ${String(actual)} is not ${a}`);
      return;
    case 'str':
      assert.equal(actual, a, where);
      return;
    case 'bytes':
      assert.ok(actual instanceof Uint8Array, `${where}: expected bytes`);
      assert.equal(Buffer.from(actual).toString('hex'), a, where);
      return;
    case 'list':
    case 'tuple': {
      assert.ok(Array.isArray(actual), `${where}: expected a ${tag}`);
      assert.equal(isTuple(actual), tag === 'tuple', `${where}: list/tuple`);
      const items = a as Tagged[];
      assert.equal(actual.length, items.length, `${where}: length`);
      items.forEach((x, i) => check(actual[i], x, `${where}[${i}]`));
      return;
    }
    case 'dict':
    case 'odict': {
      assert.ok(actual instanceof PyDict, `${where}: expected a dict`);
      assert.equal(actual.className, tag === 'dict' ? 'dict' : 'collections.OrderedDict', where);
      const pairs = a as [Tagged, Tagged][];
      const entries = [...actual.entries()];
      assert.equal(entries.length, pairs.length, `${where}: size`);
      pairs.forEach(([k, v], i) => {
        check(entries[i][0], k, `${where} key ${i}`);
        check(entries[i][1], v, `${where} value ${i}`);
      });
      return;
    }
    case 'set': {
      assert.ok(actual instanceof Set, `${where}: expected a set`);
      const items = a as Tagged[];
      assert.equal(actual.size, items.length, `${where}: size`);
      for (const x of items) {
        const found = [...actual].some((m) => {
          try {
            check(m, x, where);
            return true;
          } catch {
            return false;
          }
        });
        assert.ok(found, `${where}: member ${JSON.stringify(x)} missing`);
      }
      return;
    }
    case 'obj': {
      assert.ok(actual instanceof PyObject, `${where}: expected an object`);
      assert.equal(actual.className, a, where);
      const attrs = b as Record<string, Tagged>;
      assert.deepEqual(Object.keys(actual.attrs).sort(), Object.keys(attrs).sort(), `${where}: attributes`);
      for (const [k, v] of Object.entries(attrs)) check(actual.attrs[k], v, `${where}.${k}`);
      return;
    }
    default:
      assert.fail(`${where}: unknown tag ${tag}`);
  }
}

/**
 * Protocol-0 cases the reader gets wrong today (never seen in torch files, which use protocol 2):
 * raw-unicode-escape writes code points above U+FFFF as \UXXXXXXXX, which is not decoded, and
 * FLOAT text 'inf' / '-inf' is refused as corrupt; and a REDUCE of builtins.tuple gives a list.
 */
const known = new Set<string>(['strings[6] protocol 0', 'floats[5] protocol 0', 'floats[6] protocol 0', 'builtins.tuple called with a list']);

test('CPython pickles of every protocol read back as CPython reads them', () => {
  assert.ok(data.cases.length > 300);
  for (const c of data.cases) {
    if (known.has(c.name)) continue;
    const r = unpickle(Buffer.from(c.hex, 'hex'), { source: c.name });
    check(r.value, c.expect, c.name);
    const proto = /protocol (\d)$/.exec(c.name);
    if (proto) assert.equal(r.protocol, Number(proto[1]) >= 2 ? Number(proto[1]) : 0, `${c.name}: protocol`);
  }
});

test('protocol-0 corners the reader does not handle yet', { todo: 'astral \\U escapes, FLOAT inf, REDUCE of builtins.tuple' }, () => {
  for (const c of data.cases.filter((x) => known.has(x.name))) check(unpickle(Buffer.from(c.hex, 'hex'), { source: c.name }).value, c.expect, c.name);
});

test('shared references stay shared (memo), as in Python', () => {
  for (const c of data.cases.filter((x) => x.name.startsWith('shared[0]'))) {
    const v = unpickle(Buffer.from(c.hex, 'hex'), { source: c.name }).value as unknown[];
    assert.equal(v[0], v[1], c.name);
    assert.equal((v[2] as PyDict).get('k'), v[0], c.name);
  }
  for (const name of ['PUT GET text memo', 'LONG_BINPUT LONG_BINGET']) {
    const c = data.cases.find((x) => x.name === name)!;
    const v = unpickle(Buffer.from(c.hex, 'hex'), { source: name }).value as unknown[];
    assert.equal(v[0], v[1], name);
  }
});

test('globals are reported in first-use order, once each', () => {
  const c = data.cases.find((x) => x.name === 'objects[1] protocol 2')!;
  assert.deepEqual(unpickle(Buffer.from(c.hex, 'hex'), { source: 'o' }).globals, ['__main__ Thing']);
  const r = data.cases.find((x) => x.name === 'copy_reg._reconstructor (Python 2 spelling)')!;
  assert.deepEqual(unpickle(Buffer.from(r.hex, 'hex'), { source: 'r' }).globals, ['copy_reg _reconstructor', '__main__ Thing', '__builtin__ object']);
});
