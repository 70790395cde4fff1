import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { chunkId, chunkSequence, chunkSpans, forEachChunkSpan } from '../../src/seq/chunk.js';
import { fixture } from '../helpers.js';

const e2e = JSON.parse(readFileSync(fixture('e2e/expected_e2e.json'), 'utf8'));

const lengths = (len: number, L: number) => chunkSpans(len, L).map((s) => [s.start, s.end - s.start]);

test('uneven overlap of split_fasta_chunk (fixtures README quirk 1)', () => {
  assert.deepEqual(lengths(1234, 500), [[0, 500], [411, 500], [822, 412]]);
  assert.deepEqual(lengths(1701, 500).map(([, n]) => n), [500, 500, 500, 426]);
  assert.deepEqual(lengths(600, 500), [[0, 500], [299, 301]]);
  assert.deepEqual(lengths(501, 500), [[0, 500], [250, 251]]);
  assert.deepEqual(lengths(500, 500), [[0, 500]]);
  assert.deepEqual(lengths(2, 500), [[0, 2]]);
});

test('empty record gives no chunk; bad expected length is refused', () => {
  assert.deepEqual(chunkSpans(0, 300), []);
  assert.equal(forEachChunkSpan(0, 300, () => assert.fail('no window')), 0);
  // A negative length (a caller's bug) is no record at all, not a negative count.
  assert.equal(forEachChunkSpan(-600, 500, () => assert.fail('no window')), 0);
  assert.throws(() => chunkSpans(10, 0), { name: 'RangeError', message: 'expected length must be a positive integer, got 0' });
  assert.throws(() => chunkSpans(10, 2.5), { name: 'RangeError', message: 'expected length must be a positive integer, got 2.5' });
});

/**
 * Windows cut by the original's loop itself (units.split_fasta_chunk, run in Python on
 * range(length); [start, length] per window). Its steps list is [upper]*need + [lower]*(n-1-need) + [0],
 * so depending on the surplus the shifts grow by lower_int + 1, then by lower_int, and a list
 * longer than n is cut by zip. (Its `a > 1` test only skips the shift of the first window,
 * whose shift is 0 anyway, so no length shows it.)
 */
const ORIGINAL_WINDOWS: Array<[number, number, number[][]]> = [
  // need 3 < n - 1: three shifts of 1, then a shift of 0 (lower_int) before the last window.
  [32, 7, [[0, 7], [6, 7], [12, 7], [18, 7], [25, 7]]],
  // lower_int 1: shifts of 2, 2, 2, then 1, 1, 1.
  [61, 10, [[0, 10], [8, 10], [16, 10], [24, 10], [33, 10], [42, 10], [51, 10]]],
  [88, 10, [[0, 10], [9, 10], [18, 10], [28, 10], [38, 10], [48, 10], [58, 10], [68, 10], [78, 10]]],
  [95, 10, [[0, 10], [9, 10], [18, 10], [27, 10], [36, 10], [45, 10], [55, 10], [65, 10], [75, 10], [85, 10]]],
  // need > n - 1: the list is longer than the windows, zip cuts it, the last window is short.
  [1234, 500, [[0, 500], [411, 500], [822, 412]]],
  [1001, 500, [[0, 500], [333, 500], [666, 335]]],
  [2999, 500, [[0, 500], [499, 500], [999, 500], [1499, 500], [1999, 500], [2499, 500]]],
  [10, 3, [[0, 3], [2, 3], [4, 3], [7, 3]]],
  [19, 4, [[0, 4], [3, 4], [7, 4], [11, 4], [15, 4]]],
  [3, 2, [[0, 2], [1, 2]]],
  [5, 2, [[0, 2], [1, 2], [3, 2]]],
];

test('windows equal the ones the original loop cuts (upper, then lower shifts, zip cut)', () => {
  for (const [len, L, windows] of ORIGINAL_WINDOWS) {
    assert.deepEqual(lengths(len, L), windows, `length ${len}, L ${L}`);
    // forEachChunkSpan reports the same windows, 1-based, and their count.
    const seen: number[][] = [];
    assert.equal(forEachChunkSpan(len, L, (index, start, end) => seen.push([index, start, end])), windows.length);
    assert.deepEqual(seen, windows.map(([start, n], i) => [i + 1, start, start + n]));
  }
});

test('an expected length of 1 is allowed: one window per base', () => {
  assert.deepEqual(lengths(4, 1), [[0, 1], [1, 1], [2, 1], [3, 1]]);
});

test('chunk ids and sequences: <id>_chunk_<k>, case preserved', () => {
  assert.equal(chunkId('rec', 3), 'rec_chunk_3');
  assert.deepEqual(chunkSequence('r', 'acgTTGCAac', 4), [
    { id: 'r_chunk_1', sequence: 'acgT' },
    { id: 'r_chunk_2', sequence: 'TTGC' }, // windows [0, 4), [3, 7), [6, 10)
    { id: 'r_chunk_3', sequence: 'CAac' },
  ]);
});

test('chunks of the e2e input equal what the original wrote', () => {
  const got = e2e.input_records.flatMap((r: { id: string; sequence: string }) => chunkSequence(r.id, r.sequence, 500));
  assert.deepEqual(
    got.map((c: { id: string; sequence: string }) => [c.id, c.sequence]),
    e2e.chunks.map((c: { id: string; sequence: string }) => [c.id, c.sequence]),
  );
});

test('every window lies inside the record and covers it, for many lengths', () => {
  for (const L of [3, 7, 300, 500]) {
    for (let len = 1; len <= 4 * L + 3; len += L > 10 ? 7 : 1) {
      const spans = chunkSpans(len, L);
      assert.equal(spans.length, Math.ceil(len / L));
      assert.equal(spans[0].start, 0);
      assert.equal(spans.at(-1)!.end, len, `L=${L} len=${len}`);
      for (const s of spans) assert.ok(s.start >= 0 && s.end <= len && s.end > s.start);
    }
  }
});
