/**
 * ESM-2, DNABERT-S and the classifier on ONNX Runtime's WebGPU provider (in CI: Mesa's lavapipe,
 * a software Vulkan driver) against the reference fixtures, fp32 and fp16. The fixtures include
 * proteins of 1-1100 residues and DNA of 3-913 tokens, batched with padding: WebGPU's fused
 * MultiHeadAttention is wrong from 32 tokens up on lavapipe, which these lengths would show.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Precision } from '../../src/formats/onnx/layers.js';
import { loadEsm2 } from '../../src/models/load.js';
import { Classifier, DnabertEmbedder, Esm2Embedder } from '../../src/runtime/embedders.js';
import { fixture, tempDir } from '../helpers.js';
import { classifierFromJson, cosine, dnabertFromSafetensors, maxAbsDiff, readJson } from '../runtime/fixture-models.js';
import { webgpuSkip } from './adapter.js';

const skip = await webgpuSkip();
const cacheDir = tempDir();
/** fp32 on the GPU: summation orders differ from PyTorch's, far below any modelling mistake (>= 1.1e-5 is a wrong eps). */
const FP32_TOLERANCE = 1e-4;
/**
 * The issue asks for >= 0.999; lavapipe gives >= 0.999996 (the CPU 0.9999996). 0.9999 also fails
 * the defective fused attention kernel (0.99914 at 40 residues), which 0.999 would let through.
 */
const FP16_MIN_COSINE = 0.9999;

/** Checks every embedding against its reference and reports the worst figure. */
function check(t: { diagnostic(s: string): void }, what: string, precision: Precision, got: Float32Array[], want: number[][], labels: string[]): void {
  assert.equal(got.length, want.length);
  if (precision === 'fp32') {
    const deltas = got.map((g, i) => maxAbsDiff(g, want[i]));
    t.diagnostic(`${what} WebGPU fp32: max |delta| ${Math.max(...deltas).toExponential(2)}`);
    deltas.forEach((d, i) => assert.ok(d <= FP32_TOLERANCE, `${labels[i]}: max |delta| ${d}`));
  } else {
    const cosines = got.map((g, i) => cosine(g, want[i]));
    t.diagnostic(`${what} WebGPU fp16: min cosine similarity ${Math.min(...cosines).toFixed(9)}`);
    cosines.forEach((c, i) => assert.ok(c >= FP16_MIN_COSINE, `${labels[i]}: cosine ${c}`));
  }
}

for (const precision of ['fp32', 'fp16'] as const) {
  test(`ESM-2 on WebGPU, ${precision}: every fixture protein (1-1100 residues, batched like VirNucPro)`, { skip }, async (t) => {
    const expected = readJson('esm2/expected.json');
    const seqs = expected.sequences as Array<{ label: string; sequence: string }>;
    assert.ok(seqs.some((s) => s.sequence.length > 100), 'the fixtures include real-length proteins');
    const emb = await Esm2Embedder.create(await loadEsm2(fixture('esm2/fair-esm-fp32/esm2_t2_32_tiny.pt')), { device: 'webgpu', precision, batchTokens: 2048, cacheDir });
    try {
      assert.equal(emb.device, 'webgpu');
      const out = await emb.embed(seqs.map((s) => s.sequence));
      check(t, 'ESM-2', precision, out, seqs.map((s) => expected.mean_representations_batched[s.label]), seqs.map((s) => s.label));
    } finally {
      await emb.close();
    }
  });

  test(`DNABERT-S on WebGPU, ${precision}: every fixture sequence (3-913 tokens, ALiBi and padding in one bias)`, { skip }, async (t) => {
    const seqs = readJson('dnabert-s/expected.json').sequences as Array<{ label: string; token_ids: number[]; mean_representation: number[] }>;
    const emb = await DnabertEmbedder.create(dnabertFromSafetensors(), { device: 'webgpu', precision, batchTokens: 2048, cacheDir });
    try {
      assert.equal(emb.device, 'webgpu');
      const out = await emb.embedTokens(seqs.map((s) => Int32Array.from(s.token_ids)));
      check(t, 'DNABERT-S', precision, out, seqs.map((s) => s.mean_representation), seqs.map((s) => s.label));
    } finally {
      await emb.close();
    }
  });
}

test('classifier on WebGPU: every fixture case within 1e-5 of the reference probabilities', { skip }, async () => {
  const cases = readJson('mlp/expected.json').cases as Array<{ name: string; input: number[]; softmax: number[] }>;
  const clf = await Classifier.create(classifierFromJson(), { device: 'webgpu', cacheDir });
  try {
    assert.equal(clf.device, 'webgpu');
    const probs = await clf.classify(Float32Array.from(cases.flatMap((c) => c.input)), cases.length);
    cases.forEach((c, i) => assert.ok(maxAbsDiff(probs.subarray(2 * i, 2 * i + 2), c.softmax) <= 1e-5, `${c.name}: ${[...probs.subarray(2 * i, 2 * i + 2)]} vs ${c.softmax}`));
  } finally {
    await clf.close();
  }
});
