/**
 * The library's entry point (src/api/index.ts, `import ... from 'virnucpro'`): its exports, predict()
 * and embed() on the demo models, and the errors a caller gets. (install.test.ts checks the same entry
 * point built, packed and installed.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as api from '../../src/api/index.js';
import { repoRoot, tempDir, tsxImport } from '../helpers.js';

const example = join(repoRoot, 'examples', 'example.fa');
const entry = pathToFileURL(join(repoRoot, 'src', 'api', 'index.ts')).href;

test('the entry point exports a small, deliberate surface', () => {
  assert.deepEqual(Object.keys(api).sort(), ['ExitCode', 'InputError', 'ResourceError', 'UsageError', 'VirnucproError', 'demoModels', 'embed', 'predict', 'version']);
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  assert.equal(api.version, pkg.version);
  assert.deepEqual(pkg.exports['.'], { types: './dist/api/index.d.ts', default: './dist/api/index.js' });
  assert.equal(pkg.main, pkg.exports['.'].default);
  assert.equal(pkg.types, pkg.exports['.'].types);
});

test('predict() on the demo models returns the run summary, equal to run.json', async () => {
  const dir = tempDir();
  const lines: string[] = [];
  const r = await api.predict({
    input: example,
    expectedLength: 500,
    models: { demo: true },
    outDir: join(dir, 'out'),
    cacheDir: join(dir, 'cache'),
    devices: 'cpu',
    log: (line) => lines.push(line),
  });
  const runJson = JSON.parse(readFileSync(join(dir, 'out', 'run.json'), 'utf8'));
  assert.equal(r.outDir, join(dir, 'out'));
  assert.equal(r.runJson, join(dir, 'out', 'run.json'));
  assert.deepEqual(r.run, runJson);
  assert.deepEqual(r.counts, {
    records: runJson.counts.records,
    chunks: runJson.counts.chunks,
    frames: runJson.counts.frames,
    virusRecords: runJson.counts.virus_records,
    virusChunks: runJson.counts.virus_chunks,
  });
  assert.ok(r.counts.records > 0);
  assert.equal(r.demoModels, true);
  assert.ok(r.outputs.some((f) => f.endsWith('summary.tsv')));
  for (const f of r.outputs) assert.ok(existsSync(f), `${f} exists`);
  assert.ok(lines.some((l) => /DEMO MODELS/.test(l)), 'the demo warning reaches the log');
});

test('predict() refuses bad options with a UsageError (exit code 2) before touching the disk', async () => {
  const dir = tempDir();
  const outDir = join(dir, 'out');
  const base = { input: example, expectedLength: 500, models: { demo: true }, outDir, cacheDir: join(dir, 'cache') };
  const cases: Array<[Partial<api.PredictParams>, RegExp]> = [
    [{ minScore: 2 }, /minScore.*between 0 and 1, got 2/],
    [{ expectedLength: 0 }, /expectedLength.*positive integer/],
    [{ threads: 0 }, /threads must be an integer from 1/],
    [{ batchTokens: 1.5 }, /--batch-tokens must be an integer/],
    [{ precision: 'fp8' as api.Precision }, /precision.*'fp32' or 'fp16'/],
    [{ resume: true, force: true }, /resume.*force.*contradict/],
  ];
  for (const [bad, message] of cases) {
    await assert.rejects(api.predict({ ...base, ...bad }), (e: unknown) => {
      assert.ok(e instanceof api.UsageError, String(e));
      assert.equal(e.exitCode, api.ExitCode.badInput);
      assert.match(e.message, message);
      return true;
    });
  }
  assert.ok(!existsSync(outDir));
  await assert.rejects(api.predict({ ...base, input: join(dir, 'missing.fa') }), (e: unknown) => e instanceof api.InputError && e.exitCode === 2);
  await assert.rejects(api.predict({ ...base, models: {} }), (e: unknown) => e instanceof api.UsageError && /missing models/.test(e.message));
});

test('embed() with the demo ESM-2 returns what it wrote', async () => {
  const dir = tempDir();
  const input = join(dir, 'proteins.fa');
  writeFileSync(input, '>p1\nMKTAYIAKQRQISFVKSHFSRQ\n>p2\nMSTNPKPQRKTKRNTNRRPQDVKFPGG\n');
  const models = await api.demoModels(join(dir, 'cache'));
  const r = await api.embed({ model: 'esm2', weights: models.esm, input, output: join(dir, 'p.jsonl'), cacheDir: join(dir, 'cache') });
  assert.deepEqual({ ...r, seconds: 0 }, { output: join(dir, 'p.jsonl'), records: 2, residues: 49, device: 'cpu', seconds: 0 });
  assert.equal(readFileSync(r.output, 'utf8').trim().split('\n').length, 2);
  await assert.rejects(api.embed({ model: 'esm3' as api.EmbedModel, weights: models.esm, input, output: join(dir, 'q.jsonl') }), api.UsageError);
});

// Regression: the workers were forked with the parent's `-e CODE`, so each ran CODE again (a nested run
// that found the output directory locked) instead of the worker.
test('predict() works from `node -e` (the workers do not rerun the eval code)', () => {
  const dir = tempDir();
  const code = `import { predict } from ${JSON.stringify(entry)};
const r = await predict({ input: ${JSON.stringify(example)}, expectedLength: 500, models: { demo: true }, devices: 'cpu', outDir: 'out' });
console.log(r.counts.records);`;
  const run = spawnSync(process.execPath, ['--import', tsxImport, '--input-type=module', '-e', code], {
    cwd: dir,
    env: { ...process.env, VIRNUCPRO_CACHE: join(dir, 'cache') },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(run.status, 0, run.stderr);
  assert.ok(Number(run.stdout.trim()) > 0);
});

test("docs/api.md's example runs as written (the package's name resolved to these sources)", () => {
  const dir = tempDir();
  const doc = readFileSync(join(repoRoot, 'docs', 'api.md'), 'utf8');
  const code = /```js\n(\/\/ example\.mjs[\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(code, 'docs/api.md has the example');
  // `import ... from 'virnucpro'` resolves to the built package; here it is pointed at the sources instead,
  // and node_modules/virnucpro lets `virnucpro/package.json` resolve as it does for an installed package.
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(repoRoot, join(dir, 'node_modules', 'virnucpro'));
  writeFileSync(join(dir, 'example.mjs'), code.replace("from 'virnucpro';", `from ${JSON.stringify(entry)};`));
  const run = spawnSync(process.execPath, ['--import', tsxImport, 'example.mjs'], {
    cwd: dir,
    env: { ...process.env, VIRNUCPRO_CACHE: join(dir, 'cache') },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /records called virus/);
  assert.match(run.stdout, /2 records embedded on cpu into proteins\.npy/);
  assert.match(run.stderr, /refused \(exit code 2\): predict: `minScore`/);
  assert.ok(existsSync(join(dir, 'example_out', 'summary.tsv')));
});
