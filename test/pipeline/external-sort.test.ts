import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { ExternalSorter } from '../../src/pipeline/external-sort.js';
import { tempDir } from '../helpers.js';

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test('sorts across spilled runs exactly as an in-memory stable sort does, and cleans up', async () => {
  const dir = tempDir();
  let state = 12345;
  const rand = () => (state = (state * 1103515245 + 12345) % 2 ** 31);
  const items = Array.from({ length: 2500 }, (_, i) => ({ key: `x_chunk_${rand() % 300}`, line: `line ${i}` }));
  const sorter = new ExternalSorter(dir, byCodeUnit, 97);
  for (const it of items) await sorter.add(it.key, it.line);
  const got = await collect(sorter.sorted());
  const want = items
    .map((it, i) => ({ ...it, i }))
    .sort((a, b) => byCodeUnit(a.key, b.key) || a.i - b.i)
    .map((it) => it.line);
  assert.deepEqual(got, want);
  assert.deepEqual(readdirSync(dir), [], 'temporary run files are removed');
});

test('small inputs never touch the disk', async () => {
  const dir = tempDir();
  const sorter = new ExternalSorter(dir, byCodeUnit);
  for (const k of ['b', 'a_chunk_10', 'a_chunk_2']) await sorter.add(k, k);
  assert.deepEqual(await collect(sorter.sorted()), ['a_chunk_10', 'a_chunk_2', 'b']);
  assert.deepEqual(readdirSync(dir), []);
});

test('more runs than the fan-in limit are merged in passes, still stable and exact', async () => {
  const dir = tempDir();
  const items = Array.from({ length: 3000 }, (_, i) => ({ key: `k${(i * 7919) % 211}`, line: `v${i}` }));
  const sorter = new ExternalSorter(dir, byCodeUnit, 7); // ~430 runs: several intermediate merges of 64
  for (const it of items) await sorter.add(it.key, it.line);
  const want = items
    .map((it, i) => ({ ...it, i }))
    .sort((a, b) => byCodeUnit(a.key, b.key) || a.i - b.i)
    .map((it) => it.line);
  assert.deepEqual(await collect(sorter.sorted()), want);
  assert.deepEqual(readdirSync(dir), []);
});
