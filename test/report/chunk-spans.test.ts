import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { chunkSpans } from '../../src/seq/chunk.js';
import { repoRoot } from '../helpers.js';

// The page draws chunks where src/seq/chunk.ts cuts them; its copy in plain browser JavaScript must agree.
test("the page's chunk windows equal src/seq/chunk.ts for every length up to 5,000 at -e 300 and 500 (and odd lengths)", () => {
  const source = readFileSync(join(repoRoot, 'assets/report/chunk-spans.js'), 'utf8');
  const context: { virnucproChunkSpans?: (length: number, expected: number) => [number, number][] } = {};
  runInNewContext(source, context);
  const pageSpans = context.virnucproChunkSpans!;
  for (const expected of [300, 500, 1, 7]) {
    for (let length = 0; length <= 5000; length++) {
      const ours = chunkSpans(length, expected).map((s) => [s.start, s.end]);
      assert.deepEqual(JSON.parse(JSON.stringify(pageSpans(length, expected))), ours, `length ${length}, -e ${expected}`);
    }
  }
  for (const length of [123_457, 1_000_001]) assert.deepEqual(JSON.parse(JSON.stringify(pageSpans(length, 500))), chunkSpans(length, 500).map((s) => [s.start, s.end]));
});
