import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dnabertSequenceFlops, esm2SequenceFlops, shardCost } from '../../src/scheduler/cost.js';
import type { DnabertConfig, Esm2Config } from '../../src/models/config.js';

// The real model shapes: DNABERT-S (BERT-base, 12 x 768, intermediate 3072) and ESM-2 3B (36 x 2560, ffn 10240).
const dnabert: DnabertConfig = { numLayers: 12, hiddenSize: 768, numHeads: 12, intermediateSize: 3072, vocabSize: 4096, typeVocabSize: 2, layerNormEps: 1e-12 };
const esm2: Esm2Config = { numLayers: 36, embedDim: 2560, numHeads: 40, ffnDim: 10240, vocabSize: 33, tokenDropout: true, layerNormEps: 1e-5, padIdx: 1, maskIdx: 32 };

test('DNABERT-S FLOPs: linear term per token plus the quadratic attention term', () => {
  const h = 768;
  const i = 3072;
  const perLayer = (L: number): number => 2 * L * (4 * h * h + 3 * h * i) + 4 * L * L * h;
  assert.equal(dnabertSequenceFlops(dnabert, 100), 12 * perLayer(100));
  // about 2 x 85M weights x tokens for short inputs, as for any BERT-base
  assert.ok(Math.abs(dnabertSequenceFlops(dnabert, 1) / (2 * 12 * (4 * h * h + 3 * h * i)) - 1) < 1e-3);
});

test('ESM-2 FLOPs grow faster than linearly with length', () => {
  const a = esm2SequenceFlops(esm2, 200);
  const b = esm2SequenceFlops(esm2, 400);
  assert.ok(b > 2 * a);
  const e = 2560;
  assert.equal(a, 36 * (2 * 200 * (4 * e * e + 2 * e * 10240) + 4 * 200 * 200 * e));
});

test('shard cost sums both models over every sequence', () => {
  const cost = shardCost({ dnaTokens: [100, 120], proteinTokens: [168, 168, 50] }, { dnabert, esm2 });
  const expected =
    dnabertSequenceFlops(dnabert, 100) + dnabertSequenceFlops(dnabert, 120) + 2 * esm2SequenceFlops(esm2, 168) + esm2SequenceFlops(esm2, 50);
  assert.equal(cost, expected);
  // Two short sequences cost less than one long sequence of the same total length (attention is quadratic).
  assert.ok(shardCost({ dnaTokens: [], proteinTokens: [500, 500] }, { dnabert, esm2 }) < shardCost({ dnaTokens: [], proteinTokens: [1000] }, { dnabert, esm2 }));
});
