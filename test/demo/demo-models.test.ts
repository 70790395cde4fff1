import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { readFasta } from '../../src/io/fasta.js';
import { readTorchFile, type TorchTensor } from '../../src/formats/pytorch/checkpoint.js';
import { PyDict } from '../../src/formats/pytorch/pickle.js';
import { readFloat32 } from '../../src/formats/tensor.js';
import { DEMO_VERSION, DEMO_WARNING, demoModelPaths, ensureDemoModels, isCompleteDemoSet, isDemoModel, writeDemoModels } from '../../src/demo/demo-models.js';
import { loadClassifier, loadDnabert, loadEsm2 } from '../../src/models/load.js';
import { Classifier, DnabertEmbedder, Esm2Embedder } from '../../src/runtime/embedders.js';
import { translateRecord } from '../../src/seq/record.js';
import { UsageError } from '../../src/util/errors.js';
import { fixture, repoRoot, tempDir } from '../helpers.js';

/** Every file under `dir`, relative path -> bytes. */
function tree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

const root = tempDir('virnucpro-demo-');
const first = await writeDemoModels(join(root, 'a'));

test('two writes give byte-identical files', async () => {
  const second = await writeDemoModels(join(root, 'b'));
  const a = tree(first.dir);
  const b = tree(second.dir);
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [name, bytes] of a) assert.ok(bytes.equals(b.get(name)!), `${name} differs between two writes`);
  assert.deepEqual([...a.keys()].sort(), [
    'README.txt',
    'classifier_demo.pth',
    'dnabert-s/README.txt',
    'dnabert-s/config.json',
    'dnabert-s/model.safetensors',
    'dnabert-s/tokenizer.json',
    'dnabert-s/tokenizer_config.json',
    'esm2_t2_32_demo-contact-regression.pt',
    'esm2_t2_32_demo.pt',
  ]);
  // No temporary directory is left next to the sets.
  assert.deepEqual(readdirSync(root).sort(), ['a', 'b']);
});

test('every demo directory says loudly that the scores mean nothing', () => {
  assert.ok(!DEMO_WARNING.includes('\n'));
  assert.match(DEMO_WARNING, /DEMO MODELS/);
  assert.match(DEMO_WARNING, /mean NOTHING/);
  for (const readme of [join(first.dir, 'README.txt'), join(first.dnabert, 'README.txt')]) {
    const text = readFileSync(readme, 'utf8');
    assert.match(text, /DEMO MODELS: TINY, RANDOM WEIGHTS\. THEIR SCORES MEAN NOTHING\./);
    assert.match(text, /virnucpro models fetch/);
    assert.ok(text.includes(`set ${DEMO_VERSION}`));
  }
});

test('isDemoModel tells the demo files from real ones', () => {
  for (const p of [first.esm, first.dnabert, first.classifier, join(first.dnabert, 'model.safetensors')]) assert.equal(isDemoModel(p), true, p);
  for (const p of [fixture('esm2/fair-esm/esm2_t2_32_tiny.pt'), fixture('dnabert-s/model'), fixture('mlp/mlp_full_module.pth'), join(root, 'absent.pt')]) {
    assert.equal(isDemoModel(p), false, p);
  }
});

test('ESM-2 is a fair-esm checkpoint in float16 with fp16-rounded rotary frequencies and a contact-regression file', async () => {
  const m = await loadEsm2(first.esm);
  assert.equal(m.format, 'fair-esm checkpoint');
  assert.deepEqual(
    { ...m.config },
    { numLayers: 2, embedDim: 32, numHeads: 4, ffnDim: 128, vocabSize: 33, tokenDropout: true, layerNormEps: 1e-5, padIdx: 1, maskIdx: 32 },
  );
  for (const [name, t] of m.weights) assert.equal(t.dtype, 'float16', name);
  // head_dim 8, like the oracle fixture: the same stored inv_freq bits.
  const reference = await loadEsm2(fixture('esm2/fair-esm/esm2_t2_32_tiny.pt'));
  for (const layer of [0, 1]) {
    const name = `layers.${layer}.self_attn.rot_emb.inv_freq`;
    assert.deepEqual(await m.weights.get(name)!.bytes(), await reference.weights.get(name)!.bytes(), name);
  }
  assert.deepEqual([...(await readFloat32(m.weights.get('layers.0.self_attn.rot_emb.inv_freq')!))], [1, 0.0999755859375, 0.01000213623046875, 0.0010004043579101562]);
  // Same names, order and shapes as a released fair-esm checkpoint (the fixture mirrors one).
  assert.deepEqual(
    [...m.weights].map(([k, t]) => [k, t.shape]),
    [...reference.weights].map(([k, t]) => [k, t.shape]),
  );
  // The padding row is zero, and lm_head.weight shares embed_tokens' storage (tied), as torch saves them.
  const embed = await readFloat32(m.weights.get('embed_tokens.weight')!);
  assert.ok(embed.subarray(32, 64).every((v) => v === 0));
  assert.ok(embed.subarray(0, 32).some((v) => v !== 0));
  const ckpt = await readTorchFile(first.esm);
  const state = (ckpt.root as PyDict).get('model') as PyDict;
  const storageOf = (k: string) => (state.get(k) as TorchTensor).storage;
  assert.equal(storageOf('encoder.lm_head.weight'), storageOf('encoder.sentence_encoder.embed_tokens.weight'));
  assert.notEqual(storageOf('encoder.lm_head.dense.weight'), storageOf('encoder.sentence_encoder.embed_tokens.weight'));
  // LayerNorm weights are far from the identity, so embeddings vary between inputs.
  const ln = await readFloat32(m.weights.get('emb_layer_norm_after.weight')!);
  assert.ok(Math.max(...ln) - Math.min(...ln) > 0.5);

  const contact = await readTorchFile(first.esm.replace(/\.pt$/, '-contact-regression.pt'));
  const regression = (contact.root as PyDict).get('model') as PyDict;
  assert.deepEqual(
    [...regression].map(([k, t]) => [k, (t as { dtype: string }).dtype, (t as { shape: number[] }).shape]),
    [
      ['contact_head.regression.weight', 'float32', [1, 8]],
      ['contact_head.regression.bias', 'float32', [1]],
    ],
  );
});

test('DNABERT-S is a Hugging Face directory with the real DNABERT-2 tokenizer', async () => {
  const m = await loadDnabert(first.dnabert);
  assert.equal(m.format, 'hf directory');
  assert.deepEqual(
    { ...m.config },
    { numLayers: 2, hiddenSize: 48, numHeads: 12, intermediateSize: 64, vocabSize: 4096, typeVocabSize: 2, layerNormEps: 1e-12 },
  );
  assert.ok(m.files.some((f) => f.endsWith('model.safetensors')) && m.files.some((f) => f.endsWith('tokenizer.json')));
  assert.ok(readFileSync(join(first.dnabert, 'tokenizer.json')).equals(readFileSync(fixture('dnabert-s/real-tokenizer.json'))));
  assert.ok(readFileSync(join(repoRoot, 'assets/demo/dnabert-s-tokenizer.json')).equals(readFileSync(fixture('dnabert-s/real-tokenizer.json'))));
  const config = JSON.parse(readFileSync(join(first.dnabert, 'config.json'), 'utf8'));
  assert.equal(config.auto_map.AutoModel, 'bert_layers.BertModel');
  assert.equal(config.model_type, 'bert');
});

test('the classifier is a whole-module MLPClassifier whose input is DNABERT-S hidden + ESM-2 embed dim', async () => {
  const m = await loadClassifier(first.classifier);
  assert.equal(m.format, 'whole-module pickle (__main__.MLPClassifier)');
  assert.deepEqual({ ...m.config }, { inputDim: 48 + 32, hiddenDim: 16, numClasses: 2, bnEps: 1e-5 });
  const ckpt = await readTorchFile(first.classifier);
  assert.equal((ckpt.root as { className: string }).className, '__main__.MLPClassifier');
});

test('the demo models embed and classify the frames of examples/example.fa: finite values, both labels, a spread of scores', async () => {
  const frames = [];
  for await (const r of readFasta(join(repoRoot, 'examples/example.fa'))) frames.push(...translateRecord(r.id, r.sequence, 500).frames);
  assert.ok(frames.length >= 20, `${frames.length} frames`);
  const options = { threads: 1, cacheDir: tempDir() };
  const dna = await DnabertEmbedder.create(await loadDnabert(first.dnabert), options);
  const esm = await Esm2Embedder.create(await loadEsm2(first.esm), options);
  const clf = await Classifier.create(await loadClassifier(first.classifier), options);
  try {
    const d = await dna.embed(frames.map((f) => f.nucleotide));
    const p = await esm.embed(frames.map((f) => f.protein));
    const inputDim = dna.dim + esm.dim;
    assert.equal(inputDim, clf.config.inputDim);
    const features = new Float32Array(frames.length * inputDim);
    frames.forEach((_, i) => {
      features.set(d[i], i * inputDim);
      features.set(p[i], i * inputDim + dna.dim);
    });
    assert.ok(features.every(Number.isFinite), 'embeddings are finite');
    // The embeddings differ between inputs.
    assert.ok(d.some((v) => v.some((x, j) => x !== d[0][j])) && p.some((v) => v.some((x, j) => x !== p[0][j])));
    const probs = await clf.classify(features, frames.length);
    assert.ok(probs.every(Number.isFinite));
    const virus = frames.map((_, i) => probs[2 * i + 1]);
    const labels = new Set(frames.map((_, i) => (probs[2 * i + 1] > probs[2 * i] ? 'virus' : 'others')));
    assert.deepEqual([...labels].sort(), ['others', 'virus']);
    assert.ok(Math.max(...virus) - Math.min(...virus) > 0.5, `virus scores ${Math.min(...virus)}..${Math.max(...virus)}`);
    // The split comes from the seeded weights alone (src/demo/weights.ts, SEEDS): as measured there, 11 of the 26
    // frames are virus, and no frame lies within 0.05 of the threshold, so the labels do not hinge on rounding.
    const margins = frames.map((_, i) => Math.log(probs[2 * i + 1] / probs[2 * i]));
    assert.equal(frames.length, 26);
    assert.equal(margins.filter((m) => m > 0).length, 11);
    assert.ok(Math.min(...margins.map(Math.abs)) > 0.05, `closest frame to the threshold: ${Math.min(...margins.map(Math.abs))}`);
  } finally {
    await Promise.all([dna.close(), esm.close(), clf.close()]);
  }
});

test('ensureDemoModels: writes once into <cache>/demo-models/<version>, then returns the set as is; concurrent calls agree', async () => {
  const cache = tempDir();
  const results = await Promise.all([ensureDemoModels(cache), ensureDemoModels(cache), ensureDemoModels(cache)]);
  const dir = join(cache, 'demo-models', DEMO_VERSION);
  for (const r of results) assert.deepEqual(r, demoModelPaths(dir));
  assert.ok(isCompleteDemoSet(dir));
  assert.deepEqual(readdirSync(join(cache, 'demo-models')), [DEMO_VERSION], 'no temporary directories left');
  const before = statSync(results[0].esm).mtimeMs;
  const ino = statSync(results[0].esm).ino;
  assert.deepEqual(await ensureDemoModels(cache), results[0]);
  assert.equal(statSync(results[0].esm).mtimeMs, before);
  assert.equal(statSync(results[0].esm).ino, ino);
  const a = tree(first.dir);
  for (const [name, bytes] of tree(dir)) assert.ok(bytes.equals(a.get(name)!), name);
});

test('ensureDemoModels replaces an incomplete set; writeDemoModels refuses a directory that holds something else', async () => {
  const cache = tempDir();
  const dir = join(cache, 'demo-models', DEMO_VERSION);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'esm2_t2_32_demo.pt'), 'half written');
  assert.equal(isCompleteDemoSet(dir), false);
  const set = await ensureDemoModels(cache);
  assert.ok(isCompleteDemoSet(set.dir));
  assert.ok(readFileSync(set.esm).equals(readFileSync(first.esm)));
  assert.deepEqual(readdirSync(join(cache, 'demo-models')), [DEMO_VERSION]);

  // A README of another version makes a set incomplete for this one.
  const other = join(tempDir(), 'older');
  await writeDemoModels(other);
  writeFileSync(join(other, 'README.txt'), 'demo set v0\n');
  assert.equal(isCompleteDemoSet(other), false);

  const occupied = tempDir();
  writeFileSync(join(occupied, 'mine.txt'), 'keep me');
  await assert.rejects(writeDemoModels(occupied), (e: unknown) => e instanceof UsageError && e.message.includes(occupied));
  assert.equal(readFileSync(join(occupied, 'mine.txt'), 'utf8'), 'keep me');
  // An existing complete set is kept as is.
  assert.deepEqual(await writeDemoModels(first.dir), first);
});
