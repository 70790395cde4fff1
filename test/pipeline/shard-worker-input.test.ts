/**
 * The worker computes a shard only from the input plan.json describes: a shard file changed after
 * planning (by hand, by a disk fault) is refused before any model runs, so it can never become a result.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDemoModels } from '../../src/demo/demo-models.js';
import { resolveModels } from '../../src/pipeline/models.js';
import { formatShardInput, shardInputName } from '../../src/pipeline/shard-files.js';
import { assertFiniteScores, createShardHandler, CALIBRATION_PROBE, type ShardWorkerInit } from '../../src/pipeline/shard-worker.js';
import { resolveDevices } from '../../src/scheduler/devices.js';
import { sha256Hex } from '../../src/util/hash.js';
import { tempDir } from '../helpers.js';

test('a shard input that no longer matches its planned checksum is refused; the planned one is computed', async () => {
  const cacheDir = tempDir('shard-worker-cache');
  const demo = await ensureDemoModels(cacheDir);
  const models = await resolveModels({ esm: demo.esm, dnabert: demo.dnabert, classifier: demo.classifier, precision: 'fp32', cacheDir });
  const init: ShardWorkerInit = { models: models.dirs, threads: 1, batchTokens: 4096, saveEmbeddings: false, allowCpuFallback: false, probeCost: 1 };
  const handler = await createShardHandler(init, { ...resolveDevices({ devices: 'cpu' }, [])[0], index: 0 });
  const dir = tempDir('shard-worker-input');
  const path = join(dir, shardInputName(1));
  const text = formatShardInput([
    { recordIndex: 0, id: 'r1_1F1', nucleotide: CALIBRATION_PROBE.nucleotide, protein: CALIBRATION_PROBE.protein },
    { recordIndex: 0, id: 'r1_1R2', nucleotide: CALIBRATION_PROBE.nucleotide, protein: CALIBRATION_PROBE.protein },
  ]);
  writeFileSync(path, text);
  const planned = sha256Hex(Buffer.from(text));

  const ok = (await handler.handle({ shard: 1, inputPath: path, inputSha256: planned })) as { frames: number; probabilities: Float32Array };
  assert.equal(ok.frames, 2);
  assert.equal(ok.probabilities.length, 4);

  writeFileSync(path, text.replace('r1_1R2', 'r1_1R3')); // same size, one byte changed
  await assert.rejects(
    () => Promise.resolve(handler.handle({ shard: 1, inputPath: path, inputSha256: planned })),
    (e: Error) => e.message.includes(path) && /modified since it was planned/.test(e.message),
  );
});

test('non-finite scores fail the shard, naming the frame, instead of printing nan as non_virus', () => {
  const frames = [{ id: 'a_1F1' }, { id: 'a_1R2' }];
  assert.doesNotThrow(() => assertFiniteScores(new Float32Array([0.25, 0.75, 1, 0]), frames, 'cpu'));
  assert.throws(() => assertFiniteScores(new Float32Array([0.25, 0.75, NaN, 0.5]), frames, 'webgpu'), /non-finite score \(NaN\) for frame a_1R2 on webgpu/);
  assert.throws(() => assertFiniteScores(new Float32Array([Infinity, 0, 0.5, 0.5]), frames, 'cpu'), /for frame a_1F1 on cpu/);
});
