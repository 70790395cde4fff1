import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { chunkSequence, chunkSpans } from '../../src/seq/chunk.js';
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
  assert.throws(() => chunkSpans(10, 0), RangeError);
  assert.throws(() => chunkSpans(10, 2.5), RangeError);
});

test('expected length 1 keeps the a > 1 quirk (second window not shifted)', () => {
  // L=1: no surplus, so every window is one base at its own offset.
  assert.deepEqual(lengths(4, 1), [[0, 1], [1, 1], [2, 1], [3, 1]]);
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
