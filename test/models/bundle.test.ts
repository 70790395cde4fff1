import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openBundle, writeBundle, BUNDLE_FORMAT_VERSION } from '../../src/models/bundle.js';
import { loadClassifier, loadDnabert, loadEsm2 } from '../../src/models/load.js';
import { Classifier, DnabertEmbedder, Esm2Embedder } from '../../src/runtime/embedders.js';
import { InputError } from '../../src/util/errors.js';
import { fixture, tempDir } from '../helpers.js';
import { maxAbsDiff, readJson } from '../runtime/fixture-models.js';

async function prepare(out: string, precision: 'fp32' | 'fp16' = 'fp32') {
  return writeBundle(
    out,
    {
      esm2: await loadEsm2(fixture('esm2/fair-esm/esm2_t2_32_tiny.pt')),
      dnabert: { model: await loadDnabert(fixture('dnabert-s/model')), tokenizerPath: fixture('dnabert-s/model/tokenizer.json') },
      classifier: await loadClassifier(fixture('mlp/mlp_full_module.pth')),
    },
    { precision, sourceChecksums: true },
  );
}

test('a prepared bundle holds three graphs, their data and a manifest, and embeds like the raw weights', async () => {
  const root = tempDir();
  const out = join(root, 'bundle');
  const manifest = await prepare(out);
  assert.deepEqual(readdirSync(root), ['bundle']); // no temporary directory left behind
  assert.deepEqual(readdirSync(out).sort(), [
    '.verified.json', // the memo of verified files (src/util/hash-memo.ts), not part of the manifest
    'classifier.onnx', 'classifier.onnx.data', 'dnabert-s.onnx', 'dnabert-s.onnx.data', 'dnabert-s.tokenizer.json', 'esm2.onnx', 'esm2.onnx.data', 'manifest.json',
  ]);
  assert.equal(manifest.formatVersion, BUNDLE_FORMAT_VERSION);
  assert.equal(manifest.models.esm2?.config.embedDim, 32);
  assert.match(manifest.models.esm2?.sources[0].sha256 ?? '', /^[0-9a-f]{64}$/);

  const esmExp = readJson('esm2/expected.json');
  const esm = await Esm2Embedder.create(out, { threads: 1 });
  const proteins = esmExp.sequences.map((s: { sequence: string }) => s.sequence);
  const e = await esm.embed(proteins);
  esmExp.sequences.forEach((s: { label: string }, i: number) => assert.ok(maxAbsDiff(e[i], esmExp.mean_representations_batched[s.label]) <= 5e-6, s.label));
  await esm.close();

  const dnaExp = readJson('dnabert-s/expected.json');
  const dna = await DnabertEmbedder.create(out, { threads: 1 });
  const d = await dna.embed(dnaExp.sequences.map((s: { sequence: string }) => s.sequence));
  dnaExp.sequences.forEach((s: { mean_representation: number[] }, i: number) => assert.ok(maxAbsDiff(d[i], s.mean_representation) <= 5e-6));
  await dna.close();

  const clf = await Classifier.create(out, { threads: 1 });
  const c = readJson('mlp/expected.json').cases[1];
  assert.ok(maxAbsDiff(await clf.classify(Float32Array.from(c.input), 1), c.softmax) <= 1e-5);
  await clf.close();

  await assert.rejects(prepare(out), /already exists/);
});

test('a bundle whose files do not match the manifest, or of another format version, is refused with advice', async () => {
  const out = join(tempDir(), 'bundle');
  await prepare(out);
  const manifestPath = join(out, 'manifest.json');
  const original = readFileSync(manifestPath, 'utf8');

  appendFileSync(join(out, 'esm2.onnx.data'), 'x');
  await assert.rejects(openBundle(out), (e: Error) => e instanceof InputError && /esm2\.onnx\.data is \d+ bytes/.test(e.message) && /models prepare/.test((e as InputError).hint ?? ''));
  await assert.rejects(Esm2Embedder.create(out), /esm2\.onnx\.data/);

  const m = JSON.parse(original);
  m.formatVersion = BUNDLE_FORMAT_VERSION + 1;
  writeFileSync(manifestPath, JSON.stringify(m));
  await assert.rejects(openBundle(out), /format version/);
  assert.ok(existsSync(manifestPath));
});
