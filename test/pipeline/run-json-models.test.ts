/**
 * run.json records every model file with its size and sha256: the source files (weights, configs,
 * tokenizer) and the bundle files run (graph, external data, tokenizer copy), for a raw-files run and a
 * prepared-bundle run. The checksums are computed here from the files themselves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runCli } from '../cli-harness.js';
import { fixture, fixtureModelFlags, tempDir } from '../helpers.js';

const dir = tempDir('virnucpro-run-json-models-');
const cacheDir = join(dir, 'cache');
const RAW = fixtureModelFlags(cacheDir);
const KINDS = ['esm2', 'dnabert-s', 'classifier'] as const;

interface ModelFile {
  path: string;
  bytes: number;
  sha256: string | null;
}
interface ModelSources {
  bundle: string;
  sources: string[];
  sourceFiles: ModelFile[];
  bundleFiles: ModelFile[];
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

async function predict(out: string, models: string[]): Promise<{ sha256: string; sources: Record<string, ModelSources> }> {
  const run = await runCli(['predict', fixture('e2e/input.fa'), '-e', '500', ...models, '-o', join(dir, out), '-q', '--device', 'cpu', '-t', '1'], { timeoutMs: 180_000 });
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(readFileSync(join(dir, out, 'run.json'), 'utf8')).models;
}

/** Every listed file exists with the recorded size and sha256. */
function assertFilesReal(files: ModelFile[], what: string): void {
  assert.ok(files.length > 0, `${what}: some files`);
  for (const f of files) {
    assert.equal(f.bytes, statSync(f.path).size, `${what}: size of ${f.path}`);
    assert.equal(f.sha256, sha256(f.path), `${what}: sha256 of ${f.path}`);
  }
}

test('raw files: run.json gives each source file and each cached graph file with its real size and sha256', async () => {
  const models = await predict('raw', RAW);
  const given = { esm2: RAW[1], 'dnabert-s': RAW[3], classifier: RAW[5] };
  for (const kind of KINDS) {
    const m = models.sources[kind];
    assertFilesReal(m.sourceFiles, `${kind} sources`);
    assertFilesReal(m.bundleFiles, `${kind} graph`);
    // The same files as the (unchanged) `sources` list, resolved, and under the path given.
    assert.deepEqual(m.sourceFiles.map((f) => f.path), m.sources.map((p) => resolve(p)), kind);
    assert.ok(m.sourceFiles.every((f) => f.path.startsWith(resolve(given[kind]))), kind);
    assert.ok(m.bundleFiles.every((f) => f.path.startsWith(m.bundle + '/')), kind);
  }
  assert.deepEqual(models.sources['dnabert-s'].bundleFiles.map((f) => f.path.slice(models.sources['dnabert-s'].bundle.length + 1)), [
    'dnabert-s.onnx',
    'dnabert-s.onnx.data',
    'dnabert-s.tokenizer.json',
  ]);
  assert.match(models.sha256, /^[0-9a-f]{64}$/, 'the combined fingerprint is still there');
});

test('a prepared bundle: its files with their real sha256, and the sources as the manifest recorded them', async () => {
  const bundle = join(dir, 'bundle');
  const prep = await runCli(['models', 'prepare', ...RAW.slice(0, 6), '--out', bundle, '-q'], { timeoutMs: 180_000 });
  assert.equal(prep.code, 0, prep.stderr);
  const models = await predict('via-bundle', ['--models', bundle, '--cache-dir', cacheDir]);
  for (const kind of KINDS) {
    const m = models.sources[kind];
    assert.equal(m.bundle, resolve(bundle));
    assertFilesReal(m.bundleFiles, `${kind} bundle`);
    // The fixture files the bundle was prepared from are still here, unchanged: the recorded checksums are theirs.
    assertFilesReal(m.sourceFiles, `${kind} sources`);
  }
  assert.deepEqual(models.sources.classifier.bundleFiles.map((f) => f.path), [join(resolve(bundle), 'classifier.onnx'), join(resolve(bundle), 'classifier.onnx.data')]);
});
