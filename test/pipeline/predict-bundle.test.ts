import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, repoRoot, tempDir, tsxImport } from '../helpers.js';

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', tsxImport, join(repoRoot, 'src/cli/main.ts'), ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const RAW = [
  '--esm',
  fixture('esm2/hf'),
  '--dnabert',
  fixture('dnabert-s/model'),
  '--classifier',
  fixture('mlp/mlp_state_dict.pth'),
];

test('models prepare -> predict --models gives the same results as the raw files; a tampered bundle is refused', () => {
  const dir = tempDir('virnucpro-bundle-');
  const bundle = join(dir, 'bundle');
  const prep = cli(['models', 'prepare', ...RAW, '--out', bundle, '-q']);
  assert.equal(prep.status, 0, prep.stderr);

  const info = cli(['models', 'info', bundle, '--json']);
  assert.equal(info.status, 0, info.stderr);
  assert.match(info.stdout, /virnucpro-bundle|bundle/);

  const input = fixture('e2e/input.fa');
  const viaBundle = cli(['predict', input, '-e', '500', '--models', bundle, '-o', join(dir, 'a'), '-q']);
  assert.equal(viaBundle.status, 0, viaBundle.stderr);
  const viaRaw = cli(['predict', input, '-e', '500', ...RAW, '--cache-dir', join(dir, 'cache'), '-o', join(dir, 'b'), '-q']);
  assert.equal(viaRaw.status, 0, viaRaw.stderr);
  for (const f of ['prediction_results.txt', 'prediction_results_highestscore.csv', 'summary.tsv']) {
    assert.equal(readFileSync(join(dir, 'a', f), 'utf8'), readFileSync(join(dir, 'b', f), 'utf8'), f);
  }
  const runA = JSON.parse(readFileSync(join(dir, 'a', 'run.json'), 'utf8'));
  const runB = JSON.parse(readFileSync(join(dir, 'b', 'run.json'), 'utf8'));
  assert.equal(runA.models.sha256, runB.models.sha256, 'same graphs and weights, same model fingerprint');

  // Damage a graph file: the bundle no longer matches its manifest.
  const graph = join(bundle, 'classifier.onnx');
  const bytes = readFileSync(graph);
  bytes[bytes.length - 1] ^= 0x01;
  writeFileSync(graph, bytes);
  const refused = cli(['predict', input, '-e', '500', '--models', bundle, '-o', join(dir, 'c'), '-q']);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /classifier\.onnx does not match its checksum/);
  assert.match(refused.stderr, /models prepare/);

  const both = cli(['predict', input, '-e', '500', '--models', bundle, '--esm', fixture('esm2/hf'), '-o', join(dir, 'd')]);
  assert.equal(both.status, 2);
  assert.match(both.stderr, /--models cannot be combined/);
});
