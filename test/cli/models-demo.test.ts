import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_VERSION, DEMO_WARNING, isCompleteDemoSet } from '../../src/demo/demo-models.js';
import { repoRoot, tempDir } from '../helpers.js';

function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...args], { cwd: repoRoot, env }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

test('models demo writes into the cache (three racing processes agree), prints the warning and the paths; models info recognises each file', async () => {
  const cache = tempDir();
  const dir = join(cache, 'demo-models', DEMO_VERSION);
  const runs = await Promise.all([run(['models', 'demo', '--cache-dir', cache]), run(['models', 'demo', '--cache-dir', cache]), run(['models', 'demo', '--cache-dir', cache, '--json'])]);
  for (const r of runs) assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(join(cache, 'demo-models')), [DEMO_VERSION], 'no temporary directories left');
  assert.ok(isCompleteDemoSet(dir));

  const text = runs[0].stdout;
  assert.equal(text.split('\n')[0], DEMO_WARNING);
  assert.ok(text.includes(`--esm        ${join(dir, 'esm2_t2_32_demo.pt')}`), text);
  assert.ok(text.includes(`--dnabert    ${join(dir, 'dnabert-s')}`), text);
  assert.ok(text.includes(`--classifier ${join(dir, 'classifier_demo.pth')}`), text);
  assert.equal(runs[1].stdout, text);
  const json = JSON.parse(runs[2].stdout);
  assert.deepEqual(json, {
    dir,
    esm: join(dir, 'esm2_t2_32_demo.pt'),
    dnabert: join(dir, 'dnabert-s'),
    classifier: join(dir, 'classifier_demo.pth'),
    warning: DEMO_WARNING,
  });

  const infos = await Promise.all([json.esm, json.dnabert, json.classifier].map((p: string) => run(['models', 'info', p, '--json'])));
  for (const r of infos) assert.equal(r.code, 0, r.stderr);
  const [esm, dna, clf] = infos.map((r) => JSON.parse(r.stdout));
  assert.equal(esm.kind, 'esm2');
  assert.equal(esm.format, 'fair-esm checkpoint');
  assert.equal(esm.config.embedDim, 32);
  assert.equal(dna.kind, 'dnabert-s');
  assert.equal(dna.config.vocabSize, 4096);
  assert.equal(clf.kind, 'classifier');
  assert.equal(clf.format, 'whole-module pickle (__main__.MLPClassifier)');
  assert.equal(clf.config.inputDim, dna.config.hiddenSize + esm.config.embedDim);
});

test('models demo honours VIRNUCPRO_CACHE, and --out writes the same bytes into a new directory', async () => {
  const cache = tempDir();
  const viaEnv = await run(['models', 'demo', '--json'], { ...process.env, VIRNUCPRO_CACHE: cache });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  const cached = JSON.parse(viaEnv.stdout);
  assert.equal(cached.dir, join(cache, 'demo-models', DEMO_VERSION));

  const out = join(tempDir(), 'my-demo');
  const r = await run(['models', 'demo', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const written = JSON.parse(r.stdout);
  assert.equal(written.dir, out);
  for (const key of ['esm', 'classifier'] as const) assert.ok(readFileSync(written[key]).equals(readFileSync(cached[key])), key);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) {
    assert.ok(readFileSync(join(written.dnabert, f)).equals(readFileSync(join(cached.dnabert, f))), f);
  }
  // Again into the same complete set: kept as is.
  const again = await run(['models', 'demo', '--out', out]);
  assert.equal(again.code, 0, again.stderr);
});

test('models demo --out refuses a directory that holds other files, with exit code 2 naming it', async () => {
  const occupied = tempDir();
  writeFileSync(join(occupied, 'notes.txt'), 'mine');
  const r = await run(['models', 'demo', '--out', occupied]);
  assert.equal(r.code, 2);
  assert.ok(r.stderr.includes(occupied), r.stderr);
  assert.deepEqual(readdirSync(occupied), ['notes.txt']);
});
