import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeBundle } from '../../src/models/bundle.js';
import { loadDnabert } from '../../src/models/load.js';
import { readFloat32 } from '../../src/formats/tensor.js';
import { readSafetensors } from '../../src/formats/safetensors.js';
import { SAFETENSORS_EMBEDDINGS, float32ToShortest } from '../../src/runtime/embedding-output.js';
import { fixture, repoRoot, tempDir } from '../helpers.js';
import { maxAbsDiff, readJson } from '../runtime/fixture-models.js';

function virnucpro(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: repoRoot });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('embed esm2 writes one JSON line per record, in input order, matching the fixture', () => {
  const dir = tempDir();
  const out = join(dir, 'p.jsonl');
  const r = virnucpro(['embed', 'esm2', '--weights', fixture('esm2/hf'), '-i', fixture('esm2/proteins.fasta'), '-o', out, '--cache-dir', dir, '-t', '1', '--batch-tokens', '512']);
  assert.equal(r.code, 0, r.stderr);
  const expected = readJson('esm2/expected.json');
  const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; embedding: number[] });
  assert.deepEqual(lines.map((l) => l.id), expected.sequences.map((s: { label: string }) => s.label));
  for (const l of lines) assert.ok(maxAbsDiff(l.embedding, expected.mean_representations_batched[l.id]) <= 5e-6, l.id);
  assert.match(r.stderr, /embedded 11 records/);
});

test('embed dnabert-s from a bundle writes a float32 .npy and its ids', async () => {
  const dir = tempDir();
  const bundle = join(dir, 'bundle');
  await writeBundle(bundle, { dnabert: { model: await loadDnabert(fixture('dnabert-s/model')), tokenizerPath: fixture('dnabert-s/model/tokenizer.json') } }, { precision: 'fp32' });
  const out = join(dir, 'd.npy');
  const r = virnucpro(['embed', 'dnabert-s', '--weights', bundle, '-i', fixture('dnabert-s/dna.fasta'), '-o', out, '-q']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const expected = readJson('dnabert-s/expected.json');
  const raw = readFileSync(out);
  const headerLen = raw.readUInt16LE(8);
  const header = raw.subarray(10, 10 + headerLen).toString('latin1');
  assert.match(header, /'descr': '<f4', 'fortran_order': False, 'shape': \(10, 48\)/);
  assert.equal((10 + headerLen) % 64, 0);
  const data = new Float32Array(raw.buffer.slice(raw.byteOffset + 10 + headerLen, raw.byteOffset + raw.byteLength));
  const ids = readFileSync(`${out}.ids.txt`, 'utf8').trim().split('\n');
  assert.deepEqual(ids, expected.sequences.map((s: { label: string }) => s.label));
  expected.sequences.forEach((s: { mean_representation: number[] }, i: number) => assert.ok(maxAbsDiff(data.subarray(48 * i, 48 * i + 48), s.mean_representation) <= 5e-6));
});

test('embed esm2 -o OUT.safetensors writes one float32 [records, dim] tensor and its ids, readable as safetensors', async () => {
  const dir = tempDir();
  const out = join(dir, 'p.safetensors');
  const r = virnucpro(['embed', 'esm2', '--weights', fixture('esm2/hf'), '-i', fixture('esm2/proteins.fasta'), '-o', out, '--cache-dir', dir, '-t', '1', '-q']);
  assert.equal(r.code, 0, r.stderr);
  const expected = readJson('esm2/expected.json');
  const labels = expected.sequences.map((s: { label: string }) => s.label);
  const file = readSafetensors(out);
  assert.deepEqual([...file.tensors.keys()], [SAFETENSORS_EMBEDDINGS]);
  assert.deepEqual(file.metadata, { format: 'virnucpro-embeddings', ids: 'p.safetensors.ids.txt' });
  const t = file.tensors.get(SAFETENSORS_EMBEDDINGS)!;
  assert.equal(t.dtype, 'float32');
  const dim = t.shape[1];
  assert.deepEqual(t.shape, [labels.length, dim]);
  const data = await readFloat32(t);
  const ids = readFileSync(`${out}.ids.txt`, 'utf8').trim().split('\n');
  assert.deepEqual(ids, labels);
  ids.forEach((id, i) => assert.ok(maxAbsDiff(data.subarray(dim * i, dim * (i + 1)), expected.mean_representations_batched[id]) <= 5e-6, id));
});

test('bad flags and unusable devices exit with the documented codes', () => {
  const dir = tempDir();
  const base = ['--weights', fixture('esm2/hf'), '-i', fixture('esm2/proteins.fasta'), '--cache-dir', dir];
  assert.equal(virnucpro(['embed', 'esm3', ...base, '-o', join(dir, 'x.jsonl')]).code, 2);
  assert.equal(virnucpro(['embed', 'esm2', ...base, '-o', join(dir, 'x.csv')]).code, 2);
  const tpu = virnucpro(['embed', 'esm2', ...base, '-o', join(dir, 'x.jsonl'), '--device', 'tpu']);
  assert.equal(tpu.code, 2);
  assert.match(tpu.stderr, /unknown device 'tpu'/);
  const cuda = virnucpro(['embed', 'esm2', ...base, '-o', join(dir, 'x.jsonl'), '--device', 'cuda:97']);
  assert.equal(cuda.code, 4, cuda.stderr);
  assert.match(cuda.stderr, /cuda:97 is not usable/);
  const fallback = virnucpro(['embed', 'esm2', ...base, '-o', join(dir, 'y.jsonl'), '--device', 'cuda:97', '--allow-cpu-fallback']);
  assert.equal(fallback.code, 0, fallback.stderr);
  assert.match(fallback.stderr, /falling back to cpu/);
});

test('floats are printed with the fewest digits that round-trip to the same float32', () => {
  for (const x of [0.1, 1 / 3, -1.4673096, 1e-7, 3.4e38, 0, -0.0001, 123456789]) {
    const f = Math.fround(x);
    const s = float32ToShortest(f);
    assert.equal(Math.fround(Number(s)), f, s);
  }
  assert.equal(float32ToShortest(Math.fround(0.1)), '0.1');
  assert.equal(float32ToShortest(Math.fround(1 / 3)), '0.33333334');
  assert.equal(float32ToShortest(Math.fround(16777217)), '16777216');
  assert.equal(float32ToShortest(NaN), 'null');
});
