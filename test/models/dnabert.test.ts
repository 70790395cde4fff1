import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { writeOnnxModel } from '../../src/formats/onnx/writer.js';
import { alibiSlopes, buildDnabertGraph } from '../../src/models/dnabert.js';
import { DnabertEmbedder } from '../../src/runtime/embedders.js';
import { tempDir } from '../helpers.js';
import { cosine, dnabertFromSafetensors, maxAbsDiff, readJson } from '../runtime/fixture-models.js';

const expected = readJson('dnabert-s/expected.json');
type Seq = { label: string; token_ids: number[]; mean_representation: number[] };

test('ALiBi slopes: the fixture 12-head values, and power-of-two head counts', () => {
  assert.deepEqual(alibiSlopes(12).map(Math.fround), expected.model.alibi_slopes);
  assert.deepEqual(alibiSlopes(8), [0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625]);
  assert.deepEqual(alibiSlopes(4), [0.25, 0.0625, 0.015625, 0.00390625]);
  // 6 heads: the 4-head slopes, then every second slope of the 8-head set.
  assert.deepEqual(alibiSlopes(6), [0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125]);
});

test('per-layer hidden states match the reference (debug dump)', async () => {
  const model = dnabertFromSafetensors();
  const path = join(tempDir(), 'dnabert.onnx');
  await writeOnnxModel(buildDnabertGraph(model.config, model.weights, { precision: 'fp32', hiddenStates: true }), path);
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
  for (const d of expected.per_token_debug) {
    const ids = BigInt64Array.from(d.token_ids.map(BigInt));
    const r = await session.run({
      input_ids: new ort.Tensor('int64', ids, [1, ids.length]),
      attention_mask: new ort.Tensor('int64', ids.map(() => 1n), [1, ids.length]),
    });
    const refs = [d.embedding_output, ...d.layer_outputs];
    refs.forEach((ref: number[][], k: number) => {
      assert.ok(maxAbsDiff(r[`hidden_${k}`].data as Float32Array, ref.flat()) <= 5e-6, `layer ${k}`);
    });
    assert.ok(maxAbsDiff(r[`hidden_${refs.length - 1}`].data as Float32Array, d.last_hidden_state.flat()) <= 5e-6);
  }
  await session.release();
});

test('fixture embeddings within 5e-6, whatever the batching, in input order (token ids and tokenizer)', async () => {
  const seqs = expected.sequences as Seq[];
  const ids = seqs.map((s) => Int32Array.from(s.token_ids));
  for (const batchTokens of [1, 1024, 1 << 16]) {
    const emb = await DnabertEmbedder.create(dnabertFromSafetensors(), { threads: 1, batchTokens, cacheDir: tempDir() });
    try {
      const out = await emb.embedTokens(ids);
      seqs.forEach((s, i) => {
        const d = maxAbsDiff(out[i], s.mean_representation);
        assert.ok(d <= 5e-6, `${s.label} (batchTokens ${batchTokens}): max |delta| ${d}`);
      });
      if (batchTokens === 1024) {
        const fromText = await emb.embed(seqs.map((s) => (s as unknown as { sequence: string }).sequence));
        seqs.forEach((s, i) => assert.ok(maxAbsDiff(fromText[i], s.mean_representation) <= 5e-6, s.label));
      }
    } finally {
      await emb.close();
    }
  }
});

test('fp16 weights and compute stay close to fp32 (cosine similarity)', async (t) => {
  // ONNX Runtime's CPU provider (the default here) runs the fp16 graph: any error is a failure, not a skip.
  const emb = await DnabertEmbedder.create(dnabertFromSafetensors(), { threads: 1, precision: 'fp16', cacheDir: tempDir() });
  try {
    const seqs = expected.sequences as Seq[];
    const out = await emb.embedTokens(seqs.map((s) => Int32Array.from(s.token_ids)));
    let worst = 1;
    seqs.forEach((s, i) => (worst = Math.min(worst, cosine(out[i], s.mean_representation))));
    t.diagnostic(`DNABERT-S fp16 vs reference: min cosine similarity ${worst.toFixed(9)}`);
    assert.ok(worst > 0.999, `cosine ${worst}`);
  } finally {
    await emb.close();
  }
});

test('attention: ALiBi and key padding in one bias per forward pass, shared by every layer', () => {
  const model = dnabertFromSafetensors();
  for (const precision of ['fp32', 'fp16'] as const) {
    const g = buildDnabertGraph(model.config, model.weights, { precision });
    const producer = new Map(g.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
    const adds = g.nodes.filter((n) => n.opType === 'Softmax').map((s) => producer.get(s.inputs[0])!);
    assert.equal(adds.length, model.config.numLayers);
    assert.ok(adds.every((add) => add.opType === 'Add' && add.inputs[1] === adds[0].inputs[1]), 'every layer adds the same bias value');
    const bias = producer.get(adds[0].inputs[1])!;
    assert.deepEqual(bias.inputs.map((i) => producer.get(i)?.opType), ['Mul', 'Where'], 'bias = ALiBi (slopes x distance) + padding');
  }
});
