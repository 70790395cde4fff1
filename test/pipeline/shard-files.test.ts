import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  formatShardInput,
  parseShardInput,
  readShardResult,
  writeShardResult,
  type ShardFrame,
} from '../../src/pipeline/shard-files.js';
import { tempDir } from '../helpers.js';

test('shard input round-trips', () => {
  const frames: ShardFrame[] = [
    { recordIndex: 0, id: 'a_chunk_1F1', nucleotide: 'ATGAAA', protein: 'MK' },
    { recordIndex: 3, id: 'b|x_chunk_2R3', nucleotide: 'ATG', protein: 'M' },
  ];
  assert.deepEqual(parseShardInput(formatShardInput(frames), 'x'), frames);
});

test('shard results validate, and any damage is detected', async () => {
  const dir = tempDir();
  const path = join(dir, 'shard-000001.result');
  const probabilities = new Float32Array([0.25, 0.75, 0.5, 0.5, 1, 0]);
  const features = new Float32Array(12).map((_, i) => i / 7);
  await writeShardResult(path, { shard: 1, frames: 3, classes: 2, probabilities, featureDim: 4, features });
  const ok = await readShardResult(path, { shard: 1, frames: 3 });
  assert.ok(ok.ok);
  assert.deepEqual(Array.from(ok.result.probabilities), Array.from(probabilities));
  assert.deepEqual(Array.from(ok.result.features!), Array.from(features));

  assert.deepEqual(await readShardResult(path, { shard: 2, frames: 3 }), { ok: false, reason: 'belongs to shard 1' });
  assert.equal((await readShardResult(path, { shard: 1, frames: 4 })).ok, false);
  assert.deepEqual(await readShardResult(join(dir, 'nope'), { shard: 1, frames: 3 }), { ok: false, reason: 'missing' });

  const bytes = readFileSync(path);
  writeFileSync(path, bytes.subarray(0, bytes.length - 5));
  assert.equal((await readShardResult(path, { shard: 1, frames: 3 })).ok, false, 'truncated');
  const flipped = Buffer.from(bytes);
  flipped[flipped.length - 1] ^= 1;
  writeFileSync(path, flipped);
  assert.deepEqual(await readShardResult(path, { shard: 1, frames: 3 }), { ok: false, reason: 'checksum mismatch' });
});
