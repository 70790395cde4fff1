/**
 * `--batch-tokens auto` (src/scheduler/batch-size.ts): tokens per batch from a GPU's memory, one value
 * per run (the smallest over its devices), the CPU and devices of unknown memory keeping the default.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DnabertConfig, Esm2Config } from '../../src/models/config.js';
import { DEFAULT_BATCH_TOKENS } from '../../src/runtime/embedders.js';
import { autoBatchTokens, batchTokensForMemory, sequenceBoundsForChunk, weightBytes, type BatchModels } from '../../src/scheduler/batch-size.js';
import { resolveDevices, type DetectedGpu } from '../../src/scheduler/devices.js';
import { MAX_BATCH_TOKENS } from '../../src/scheduler/limits.js';

const esm2_3b: Esm2Config = { numLayers: 36, embedDim: 2560, numHeads: 40, ffnDim: 10240, vocabSize: 33, tokenDropout: true, layerNormEps: 1e-5, padIdx: 1, maskIdx: 32 };
const dnabertS: DnabertConfig = { numLayers: 12, hiddenSize: 768, numHeads: 12, intermediateSize: 3072, vocabSize: 4096, typeVocabSize: 2, layerNormEps: 1e-12 };
const fp16: BatchModels = { esm2: esm2_3b, dnabert: dnabertS, precision: 'fp16' };
const fp32: BatchModels = { ...fp16, precision: 'fp32' };
const e500 = sequenceBoundsForChunk(500);
const H200 = 143771;

test('the weights of ESM-2 3B and DNABERT-S: about 2.95 billion parameters', () => {
  assert.ok(Math.abs(weightBytes(fp16) / 2 - 2.95e9) < 0.05e9, String(weightBytes(fp16)));
  assert.equal(weightBytes(fp32), 2 * weightBytes(fp16));
});

test('an H200 holds far more than the CPU default; less memory, fp32 or longer sequences give fewer tokens', () => {
  const h200 = batchTokensForMemory(H200, fp16, e500);
  assert.ok(h200.fits);
  assert.ok(h200.tokens >= 200_000 && h200.tokens <= MAX_BATCH_TOKENS, String(h200.tokens));
  assert.equal(h200.tokens % 1024, 0);
  const a100 = batchTokensForMemory(81559, fp16, e500).tokens;
  const l4 = batchTokensForMemory(23034, fp16, e500).tokens;
  assert.ok(h200.tokens > a100 && a100 > l4 && l4 > DEFAULT_BATCH_TOKENS, `${h200.tokens} ${a100} ${l4}`);
  assert.ok(batchTokensForMemory(H200, fp32, e500).tokens < h200.tokens);
  assert.ok(batchTokensForMemory(H200, fp16, sequenceBoundsForChunk(3000)).tokens < h200.tokens);
});

test('a GPU the weights do not fit in says so; tiny models are capped at the --batch-tokens maximum', () => {
  assert.deepEqual(batchTokensForMemory(15360, fp32, e500), { tokens: 1024, fits: false });
  const tiny: BatchModels = { esm2: { ...esm2_3b, numLayers: 2, embedDim: 32, numHeads: 2, ffnDim: 64 }, dnabert: { ...dnabertS, numLayers: 2, hiddenSize: 32, numHeads: 2, intermediateSize: 64 }, precision: 'fp32' };
  assert.equal(batchTokensForMemory(H200, tiny, e500).tokens, MAX_BATCH_TOKENS);
});

test("a run's value is the smallest over its devices; the CPU and WebGPU keep the default", () => {
  const gpus: DetectedGpu[] = [
    { index: 0, name: 'NVIDIA H200', memoryMiB: H200 },
    { index: 1, name: 'NVIDIA A100-SXM4-40GB', memoryMiB: 40960 },
  ];
  const both = autoBatchTokens(resolveDevices({ devices: 'cuda' }, gpus), fp16, e500);
  assert.equal(both.limitedBy.id, 'cuda:1');
  assert.equal(both.tokens, batchTokensForMemory(40960, fp16, e500).tokens);
  const withCpu = autoBatchTokens(resolveDevices({ devices: 'cuda:0,cpu' }, gpus), fp16, e500);
  assert.deepEqual([withCpu.tokens, withCpu.limitedBy.id], [DEFAULT_BATCH_TOKENS, 'cpu:0']);
  assert.equal(autoBatchTokens(resolveDevices({ devices: 'webgpu' }, []), fp16, e500).tokens, DEFAULT_BATCH_TOKENS);
});
