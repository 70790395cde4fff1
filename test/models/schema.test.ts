/**
 * Each model's schema (src/models/schema.ts) is the one list of its tensors:
 * the graph builders must read exactly the entries the schema says VirNucPro
 * reads, with the schema's shapes, and the name translations of the other
 * layouts must be each other's inverse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LazyTensor, TensorMap } from '../../src/formats/tensor.js';
import { ensureDemoModels } from '../../src/demo/demo-models.js';
import { buildClassifierGraph } from '../../src/models/classifier.js';
import { buildDnabertGraph } from '../../src/models/dnabert.js';
import { buildEsm2Graph } from '../../src/models/esm2.js';
import { loadClassifier, loadDnabert, loadEsm2 } from '../../src/models/load.js';
import {
  canonicalToFairEsm,
  canonicalToHfEsm,
  classifierSchema,
  dnabertSchema,
  esm2Schema,
  fairEsmToCanonical,
  hfEsmToCanonical,
  type ModelSchema,
} from '../../src/models/schema.js';
import { tempDir } from '../helpers.js';

/** The weights, recording every name a builder looks up. */
class ReadRecorder extends Map<string, LazyTensor> {
  readonly read = new Set<string>();
  override get(name: string): LazyTensor | undefined {
    this.read.add(name);
    return super.get(name);
  }
}

function usedNames(schema: ModelSchema): string[] {
  return schema.filter((s) => !s.unused).map((s) => s.name).sort();
}

/** Builds with weights cut down to the schema's used entries, and returns what the builder read. */
function namesRead(weights: TensorMap, schema: ModelSchema, build: (w: TensorMap) => void): string[] {
  const w = new ReadRecorder();
  for (const name of usedNames(schema)) {
    const t = weights.get(name);
    assert.ok(t, `the loaded weights lack schema entry '${name}'`);
    const spec = schema.find((s) => s.name === name)!;
    assert.deepEqual([...t.shape], [...spec.shape], `shape of '${name}'`);
    w.set(name, t);
  }
  build(w);
  return [...w.read].sort();
}

test('the graph builders read exactly the tensors each schema marks as used, with its shapes', async () => {
  const demo = await ensureDemoModels(tempDir());
  const esm = await loadEsm2(demo.esm);
  assert.deepEqual(namesRead(esm.weights, esm2Schema(esm.config), (w) => buildEsm2Graph(esm.config, w, { precision: 'fp32' })), usedNames(esm2Schema(esm.config)));
  const dna = await loadDnabert(demo.dnabert);
  assert.deepEqual(namesRead(dna.weights, dnabertSchema(dna.config), (w) => buildDnabertGraph(dna.config, w, { precision: 'fp32' })), usedNames(dnabertSchema(dna.config)));
  const cls = await loadClassifier(demo.classifier);
  assert.deepEqual(namesRead(cls.weights, classifierSchema(cls.config), (w) => buildClassifierGraph(cls.config, w)), usedNames(classifierSchema(cls.config)));
});

test('every schema entry the loaders produce from the demo files is there, unused heads included', async () => {
  const demo = await ensureDemoModels(tempDir());
  const esm = await loadEsm2(demo.esm);
  for (const spec of esm2Schema(esm.config)) assert.ok(esm.weights.has(spec.name), spec.name);
  const dna = await loadDnabert(demo.dnabert);
  for (const spec of dnabertSchema(dna.config)) assert.ok(dna.weights.has(spec.name), spec.name);
});

test('ESM-2 name translations (fair-esm file keys, Hugging Face EsmModel) invert each other over the whole schema', () => {
  const schema = esm2Schema({ numLayers: 3, embedDim: 16, numHeads: 2, ffnDim: 64, vocabSize: 33, padIdx: 1 });
  for (const { name } of schema) {
    assert.equal(fairEsmToCanonical(canonicalToFairEsm(name)), name, name);
    if (name.startsWith('lm_head.')) continue; // Hugging Face keeps the LM head outside EsmModel
    const hf = canonicalToHfEsm(name);
    assert.notEqual(hf, name, `${name} has a Hugging Face name`);
    assert.equal(hfEsmToCanonical(hf), name, name);
  }
  assert.equal(canonicalToHfEsm('layers.2.self_attn.rot_emb.inv_freq'), 'encoder.layer.2.attention.self.rotary_embeddings.inv_freq');
  assert.equal(hfEsmToCanonical('encoder.layer.0.attention.self.unknown.weight'), undefined);
});
