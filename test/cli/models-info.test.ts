import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { copyFileSync, writeFileSync } from 'node:fs';
import { fixture, repoRoot, tempDir } from '../helpers.js';

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...args], { cwd: repoRoot }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const models: Array<[string, string, string, Record<string, unknown>, number]> = [
  ['esm2/fair-esm/esm2_t2_32_tiny.pt', 'esm2', 'fair-esm checkpoint', { numLayers: 2, embedDim: 32, numHeads: 4, vocabSize: 33 }, 43],
  ['esm2/fair-esm-fp32/esm2_t2_32_tiny.pt', 'esm2', 'fair-esm checkpoint', { numLayers: 2, embedDim: 32 }, 43],
  ['esm2/hf', 'esm2', 'hf directory', { numLayers: 2, ffnDim: 128 }, 44],
  ['dnabert-s/model', 'dnabert-s', 'hf directory', { numLayers: 2, hiddenSize: 48, numHeads: 12, vocabSize: 54 }, 28],
  ['mlp/mlp_full_module.pth', 'classifier', 'whole-module pickle (__main__.MLPClassifier)', { inputDim: 80, hiddenDim: 16, numClasses: 2 }, 9],
  ['mlp/mlp_state_dict.pth', 'classifier', 'state_dict', { inputDim: 80 }, 9],
];

test('models info --json on every fixture model: kind, format, config and every tensor', async () => {
  const results = await Promise.all(models.map(([rel]) => run(['models', 'info', fixture(rel), '--json'])));
  models.forEach(([rel, kind, format, config, nTensors], i) => {
    const r = results[i];
    assert.equal(r.code, 0, `${rel}: ${r.stderr}`);
    const info = JSON.parse(r.stdout);
    assert.equal(info.kind, kind, rel);
    assert.equal(info.format, format, rel);
    for (const [k, v] of Object.entries(config)) assert.equal(info.config[k], v, `${rel} ${k}`);
    assert.equal(info.tensors.length, nTensors, rel);
    for (const t of info.tensors) assert.ok(typeof t.name === 'string' && typeof t.dtype === 'string' && Array.isArray(t.shape), rel);
  });
  const fp16 = JSON.parse(results[0].stdout);
  assert.deepEqual(fp16.tensors[0], { name: 'embed_tokens.weight', dtype: 'float16', shape: [33, 32] });
});

test('models info prints a human-readable description by default', async () => {
  const r = await run(['models', 'info', fixture('dnabert-s/model')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /kind: +DNABERT-S/);
  assert.match(r.stdout, /numHeads: 12/);
  assert.match(r.stdout, /encoder\.layer\.1\.mlp\.gated_layers\.weight +float32 +\[128, 48\]/);
});

test('models info refuses non-models and hostile files with exit code 2 and a message naming the file', async () => {
  const dir = tempDir();
  const junk = join(dir, 'junk.pth');
  writeFileSync(junk, 'not a checkpoint');
  const cases = [fixture('torch-real/output_1_ESM.pt'), junk, join(dir, 'absent')];
  const results = await Promise.all(cases.map((p) => run(['models', 'info', p])));
  results.forEach((r, i) => {
    assert.equal(r.code, 2, cases[i]);
    assert.ok(r.stderr.includes(cases[i]), r.stderr);
  });
});

test('models info on one weights file of a Hugging Face directory reads the config.json beside it and describes that file', async () => {
  const cases: Array<[string, string, string | undefined]> = [
    ['esm2/hf/model.safetensors', 'esm2', undefined],
    ['dnabert-s/model/model.safetensors', 'dnabert-s', 'pytorch_model.bin'],
    // The directory's loader would take model.safetensors first: the file named is the one described.
    ['dnabert-s/model/pytorch_model.bin', 'dnabert-s', 'model.safetensors'],
  ];
  const results = await Promise.all(cases.map(([rel]) => run(['models', 'info', fixture(rel), '--json'])));
  cases.forEach(([rel, kind, other], i) => {
    const r = results[i];
    assert.equal(r.code, 0, `${rel}: ${r.stderr}`);
    const info = JSON.parse(r.stdout);
    assert.equal(info.kind, kind, rel);
    assert.equal(info.path, fixture(rel));
    assert.ok(info.files.includes(fixture(rel)), `${rel}: ${info.files}`);
    assert.ok(info.files.includes(join(dirname(fixture(rel)), 'config.json')), `${rel}: ${info.files}`);
    if (other) assert.ok(!info.files.includes(join(dirname(fixture(rel)), other)), `${rel}: ${info.files}`);
  });
  const esm = JSON.parse(results[0].stdout);
  const dna = JSON.parse(results[2].stdout);
  assert.equal(esm.config.ffnDim, 128);
  assert.equal(esm.tensors.length, 44);
  assert.equal(dna.config.numHeads, 12);
  assert.equal(dna.tensors.length, 28);
});

test('models info on a Hugging Face weights file with no config.json beside it: exit 2, said once, naming the file', async () => {
  const dir = tempDir();
  const cases = [
    [fixture('esm2/hf/model.safetensors'), join(dir, 'model.safetensors'), /Hugging Face ESM-2 weights without their config\.json/],
    [fixture('dnabert-s/model/pytorch_model.bin'), join(dir, 'pytorch_model.bin'), /DNABERT-S weights without their config\.json/],
  ] as const;
  for (const [from, to] of cases) copyFileSync(from, to);
  const results = await Promise.all(cases.map(([, p]) => run(['models', 'info', p])));
  results.forEach((r, i) => {
    const [, path, message] = cases[i];
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, message);
    assert.equal(r.stderr.split(path).length - 1, 1, `the file is named once: ${r.stderr}`);
    assert.equal(r.stderr.match(/^virnucpro: error:/gm)?.length, 1, r.stderr);
    assert.match(r.stderr, /^hint: .*config\.json/m);
  });
});
