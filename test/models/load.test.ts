import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadClassifier, loadDnabert, loadEsm2 } from '../../src/models/load.js';
import { readSafetensors, writeSafetensors } from '../../src/formats/safetensors.js';
import { memoryTensor, readFloat32, type TensorMap } from '../../src/formats/tensor.js';
import { InputError } from '../../src/util/errors.js';
import { fixture, tempDir } from '../helpers.js';

const ESM_CONFIG = { numLayers: 2, embedDim: 32, numHeads: 4, ffnDim: 128, vocabSize: 33, tokenDropout: true, layerNormEps: 1e-5, padIdx: 1, maskIdx: 32 };

async function sameWeights(a: TensorMap, b: TensorMap, names: Iterable<string>): Promise<void> {
  for (const n of names) {
    const ta = a.get(n);
    const tb = b.get(n);
    assert.ok(ta && tb, `missing ${n}`);
    assert.deepEqual(ta.shape, tb.shape, n);
    assert.deepEqual(await readFloat32(ta), await readFloat32(tb), n);
  }
}

test('ESM-2: fair-esm fp16, fair-esm fp32 and the HF directory give the same canonical weights and config', async () => {
  const fp16 = await loadEsm2(fixture('esm2/fair-esm/esm2_t2_32_tiny.pt'));
  const fp32 = await loadEsm2(fixture('esm2/fair-esm-fp32/esm2_t2_32_tiny.pt'));
  const hf = await loadEsm2(fixture('esm2/hf'));
  for (const m of [fp16, fp32, hf]) {
    assert.equal(m.kind, 'esm2');
    assert.deepEqual(m.config, ESM_CONFIG);
  }
  assert.equal(fp16.format, 'fair-esm checkpoint');
  assert.equal(hf.format, 'hf directory');
  assert.equal(fp16.weights.get('embed_tokens.weight')!.dtype, 'float16');
  assert.equal(fp32.weights.get('embed_tokens.weight')!.dtype, 'float32');
  const encoder = [...fp16.weights.keys()].filter((k) => !k.startsWith('lm_head') && !k.startsWith('contact_head'));
  assert.equal(encoder.length, 3 + 2 * 17);
  await sameWeights(fp16.weights, fp32.weights, fp16.weights.keys());
  await sameWeights(fp16.weights, hf.weights, encoder);
  assert.deepEqual(Array.from(await readFloat32(hf.weights.get('layers.1.self_attn.rot_emb.inv_freq')!)), [1, 0.0999755859375, 0.01000213623046875, 0.0010004043579101562]);
});

test('ESM-2: an HF EsmModel directory (no esm. prefix) and one without stored inv_freq load too', async () => {
  const dir = tempDir();
  copyFileSync(fixture('esm2/hf/config.json'), join(dir, 'config.json'));
  const src = readSafetensors(fixture('esm2/hf/model.safetensors')).tensors;
  const stripped: TensorMap = new Map();
  for (const [k, t] of src) if (k.startsWith('esm.') && !k.includes('inv_freq')) stripped.set(k.slice(4), t);
  await writeSafetensors(join(dir, 'model.safetensors'), stripped);
  const m = await loadEsm2(dir);
  const ref = await loadEsm2(fixture('esm2/hf'));
  await sameWeights(m.weights, ref.weights, [...ref.weights.keys()].filter((k) => !k.startsWith('lm_head')));
});

test('ESM-2: missing key, wrong shape and wrong dtype are InputErrors naming the file and the key', async () => {
  const src = readSafetensors(fixture('esm2/hf/model.safetensors')).tensors;
  const cases: Array<[string, (m: TensorMap) => void, RegExp]> = [
    ['missing', (m) => m.delete('esm.encoder.layer.1.intermediate.dense.weight'), /missing tensor 'esm\.encoder\.layer\.1\.intermediate\.dense\.weight'/],
    ['shape', (m) => m.set('esm.encoder.layer.0.attention.self.query.bias', memoryTensor('float32', [31], new Float32Array(31))), /'esm\.encoder\.layer\.0\.attention\.self\.query\.bias'.*shape \[31\], expected \[32\]/],
    ['dtype', (m) => m.set('esm.encoder.layer.0.output.dense.bias', memoryTensor('int32', [32], new Uint8Array(128))), /'esm\.encoder\.layer\.0\.output\.dense\.bias'.*dtype int32/],
  ];
  for (const [label, mutate, re] of cases) {
    const dir = tempDir();
    copyFileSync(fixture('esm2/hf/config.json'), join(dir, 'config.json'));
    const m = new Map(src);
    mutate(m);
    await writeSafetensors(join(dir, 'model.safetensors'), m);
    await assert.rejects(loadEsm2(dir), (e: unknown) => e instanceof InputError && e.message.includes(join(dir, 'model.safetensors')) && re.test(e.message), label);
  }
});

test('ESM-2: a config that disagrees with the weights is refused', async () => {
  const dir = tempDir();
  const cfg = JSON.parse(readFileSync(fixture('esm2/hf/config.json'), 'utf8'));
  cfg.num_hidden_layers = 3;
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  copyFileSync(fixture('esm2/hf/model.safetensors'), join(dir, 'model.safetensors'));
  await assert.rejects(loadEsm2(dir), /3 layers but the weights hold 2/);
});

test('DNABERT-S: pytorch_model.bin and model.safetensors give the same weights; a bert. prefix is stripped', async () => {
  const st = await loadDnabert(fixture('dnabert-s/model'));
  assert.deepEqual(st.config, { numLayers: 2, hiddenSize: 48, numHeads: 12, intermediateSize: 64, vocabSize: 54, typeVocabSize: 2, layerNormEps: 1e-12 });
  assert.ok(st.files.some((f) => f.endsWith('tokenizer.json')));
  const binDir = tempDir();
  for (const f of ['config.json', 'pytorch_model.bin']) copyFileSync(fixture(`dnabert-s/model/${f}`), join(binDir, f));
  const bin = await loadDnabert(binDir);
  await sameWeights(st.weights, bin.weights, st.weights.keys());
  const prefDir = tempDir();
  copyFileSync(fixture('dnabert-s/model/config.json'), join(prefDir, 'config.json'));
  const prefixed: TensorMap = new Map();
  for (const [k, t] of readSafetensors(fixture('dnabert-s/model/model.safetensors')).tensors) prefixed.set(`bert.${k}`, t);
  prefixed.set('cls.predictions.bias', memoryTensor('float32', [54], new Float32Array(54)));
  await writeSafetensors(join(prefDir, 'model.safetensors'), prefixed);
  const pre = await loadDnabert(prefDir);
  await sameWeights(st.weights, pre.weights, st.weights.keys());
  assert.ok(!pre.weights.has('cls.predictions.bias'));
});

test('DNABERT-S: a missing weight file or tensor is an InputError naming the directory or file', async () => {
  const dir = tempDir();
  copyFileSync(fixture('dnabert-s/model/config.json'), join(dir, 'config.json'));
  await assert.rejects(loadDnabert(dir), (e: unknown) => e instanceof InputError && e.message.includes(dir) && /no weights/.test(e.message));
  const m = new Map(readSafetensors(fixture('dnabert-s/model/model.safetensors')).tensors);
  m.delete('encoder.layer.1.mlp.gated_layers.weight');
  await writeSafetensors(join(dir, 'model.safetensors'), m);
  await assert.rejects(loadDnabert(dir), /missing tensor 'encoder\.layer\.1\.mlp\.gated_layers\.weight'/);
});

test('classifier: the whole-module pickle and the state_dict give the same weights and config', async () => {
  const full = await loadClassifier(fixture('mlp/mlp_full_module.pth'));
  const sd = await loadClassifier(fixture('mlp/mlp_state_dict.pth'));
  assert.deepEqual(full.config, { inputDim: 80, hiddenDim: 16, numClasses: 2, bnEps: 1e-5 });
  assert.deepEqual(sd.config, full.config);
  assert.equal(full.format, 'whole-module pickle (__main__.MLPClassifier)');
  assert.equal(sd.format, 'state_dict');
  await sameWeights(full.weights, sd.weights, [...full.weights.keys()].filter((k) => !k.endsWith('num_batches_tracked')));
  const expected = JSON.parse(readFileSync(fixture('mlp/expected.json'), 'utf8'));
  assert.deepEqual([...sd.weights.keys()], Object.keys(expected.state_dict_keys));
});

test('loading the wrong kind of file says what it is', async () => {
  await assert.rejects(loadEsm2(fixture('mlp/mlp_state_dict.pth')), (e: unknown) => e instanceof InputError && /not a fair-esm checkpoint/.test(e.message));
  await assert.rejects(loadClassifier(fixture('esm2/fair-esm/esm2_t2_32_tiny.pt')), (e: unknown) => e instanceof InputError && /hidden_layer\.weight/.test(e.message));
  await assert.rejects(loadDnabert(fixture('esm2/hf')), InputError);
  const dir = tempDir();
  mkdirSync(join(dir, 'x'));
  await assert.rejects(loadEsm2(join(dir, 'x')), (e: unknown) => e instanceof InputError && e.message.includes('config.json'));
});
