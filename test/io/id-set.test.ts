import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdSet } from '../../src/io/id-set.js';

test('IdSet answers exactly as a Set<string> would, through growth and hash collisions', () => {
  const ids = new IdSet();
  const reference = new Set<string>();
  let s = 42;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
  const alphabet = ['a', 'b', 'Z', '_', '0', '\u00e9', '\u00ff', '\u4e2d', '\ud83d\ude00'];
  for (let k = 0; k < 60000; k++) {
    // Short ids from a small alphabet repeat often; some use characters beyond Latin-1.
    let id = '';
    const len = Math.floor(rand() * 6);
    for (let i = 0; i < len; i++) id += alphabet[Math.floor(rand() * (rand() < 0.95 ? 7 : alphabet.length))];
    assert.equal(ids.add(id), !reference.has(id), `id ${JSON.stringify(id)} at step ${k}`);
    reference.add(id);
  }
  assert.equal(ids.size, reference.size);
  const many = new IdSet();
  for (let k = 0; k < 200000; k++) assert.ok(many.add(`read_${k}`));
  for (let k = 0; k < 200000; k += 997) assert.equal(many.add(`read_${k}`), false);
  assert.equal(many.size, 200000);
});

test('two different ids with the same hash are both kept', () => {
  // Find a 32-bit FNV-1a collision by the birthday bound (a few hundred thousand ids suffice).
  const fnv = (id: string) => {
    let h = 0x811c9dc5;
    for (let k = 0; k < id.length; k++) h = Math.imul(h ^ id.charCodeAt(k), 0x01000193);
    return h >>> 0;
  };
  const seen = new Map<number, string>();
  let pair: [string, string] | null = null;
  for (let k = 0; !pair; k++) {
    const id = `id${k}`;
    const other = seen.get(fnv(id));
    if (other !== undefined) pair = [other, id];
    else seen.set(fnv(id), id);
  }
  const ids = new IdSet();
  assert.ok(ids.add(pair[0]));
  assert.ok(ids.add(pair[1]), `${pair[0]} and ${pair[1]} share a hash but differ`);
  assert.equal(ids.add(pair[0]), false);
  assert.equal(ids.add(pair[1]), false);
});
