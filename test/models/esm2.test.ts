import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { writeOnnxModel } from '../../src/formats/onnx/writer.js';
import { buildEsm2Graph } from '../../src/models/esm2.js';
import { loadEsm2 } from '../../src/models/load.js';
import { Esm2Embedder } from '../../src/runtime/embedders.js';
import { fixture, tempDir } from '../helpers.js';
import { cosine, maxAbsDiff, readJson } from '../runtime/fixture-models.js';

const expected = readJson('esm2/expected.json');
type Seq = { label: string; sequence: string; tokens: number[] };
const FORMATS = ['esm2/fair-esm/esm2_t2_32_tiny.pt', 'esm2/fair-esm-fp32/esm2_t2_32_tiny.pt', 'esm2/hf'];

test('per-layer representations match the reference debug dump (incl. <mask> token dropout)', async () => {
  const model = await loadEsm2(fixture(FORMATS[0]));
  const path = join(tempDir(), 'esm2.onnx');
  await writeOnnxModel(buildEsm2Graph(model.config, model.weights, { precision: 'fp32', hiddenStates: true }), path);
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
  for (const d of expected.per_token_debug) {
    const ids = BigInt64Array.from(d.tokens.map(BigInt));
    const r = await session.run({ tokens: new ort.Tensor('int64', ids, [1, ids.length]) });
    for (let k = 0; k <= model.config.numLayers; k++) {
      const delta = maxAbsDiff(r[`hidden_${k}`].data as Float32Array, d.representations[`layer_${k}`].flat());
      assert.ok(delta <= 5e-6, `${d.label} layer ${k}: ${delta}`);
    }
  }
  await session.release();
});

for (const rel of FORMATS) {
  test(`${rel}: every fixture embedding within 5e-6, batched like VirNucPro and in input order`, async () => {
    const seqs = expected.sequences as Seq[];
    const emb = await Esm2Embedder.create(await loadEsm2(fixture(rel)), { threads: 1, batchTokens: 2048, cacheDir: tempDir() });
    try {
      const out = await emb.embed(seqs.map((s) => s.sequence), seqs.map((s) => s.label));
      seqs.forEach((s, i) => {
        const d = maxAbsDiff(out[i], expected.mean_representations_batched[s.label]);
        assert.ok(d <= 5e-6, `${s.label}: max |delta| ${d}`);
      });
      // One sequence per forward gives the same numbers.
      const single = await Promise.all(seqs.map((s) => emb.embedTokens([Int32Array.from(s.tokens)])));
      seqs.forEach((s, i) => assert.ok(maxAbsDiff(single[i][0], out[i]) <= 2e-6, s.label));
    } finally {
      await emb.close();
    }
  });
}

test('fp16 ESM-2 reported as cosine similarity to the reference', async (t) => {
  const seqs = expected.sequences as Seq[];
  const emb = await Esm2Embedder.create(await loadEsm2(fixture(FORMATS[1])), { threads: 1, precision: 'fp16', cacheDir: tempDir() });
  try {
    const out = await emb.embed(seqs.map((s) => s.sequence));
    let worst = 1;
    seqs.forEach((s, i) => (worst = Math.min(worst, cosine(out[i], expected.mean_representations_batched[s.label]))));
    t.diagnostic(`ESM-2 fp16 vs reference: min cosine similarity ${worst.toFixed(9)}`);
    assert.ok(worst > 0.999, `cosine ${worst}`);
  } finally {
    await emb.close();
  }
});

test('attention: one key-padding bias per forward pass, shared by every layer, plain MatMul/Softmax (no fused kernel)', async () => {
  const model = await loadEsm2(fixture(FORMATS[0]));
  for (const precision of ['fp32', 'fp16'] as const) {
    const g = buildEsm2Graph(model.config, model.weights, { precision });
    const producer = new Map(g.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
    const biases = g.nodes.filter((n) => n.opType === 'Softmax').map((s) => producer.get(s.inputs[0])!);
    assert.equal(biases.length, model.config.numLayers);
    assert.ok(biases.every((add) => add.opType === 'Add' && add.inputs[1] === biases[0].inputs[1]), 'every layer adds the same bias value');
    assert.equal(producer.get(biases[0].inputs[1])!.opType, 'Where', 'the bias is Where(keep, 0, MASKED_SCORE)');
    assert.ok(!g.nodes.some((n) => n.opType === 'MultiHeadAttention'));
  }
});
