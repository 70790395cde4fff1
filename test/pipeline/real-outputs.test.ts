// Checks against outputs of the ORIGINAL pipeline run with the REAL models (DNABERT-S, ESM-2 3B,
// 500_model.pth; test/fixtures/torch-real): our sequence stages give the same files, and our feature
// merge puts the real 768-d DNABERT-S and 2560-d ESM-2 means where merge_data put them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { translateFile } from '../../src/pipeline/translate-files.js';
import { readTorchFile, PyDict } from '../../src/formats/pytorch/index.js';
import { readFloat32, type LazyTensor } from '../../src/formats/tensor.js';
import { mergeFeatures } from '../../src/pipeline/shard-worker.js';
import { fixture, tempDir } from '../helpers.js';

test('translate reproduces the real run’s chunked and identified FASTA files byte for byte', async () => {
  const out = tempDir();
  const s = await translateFile({ input: fixture('torch-real/test_with_orfs.fa'), expectedLength: 500, outDir: out });
  for (const name of ['test_with_orfs_chunked500.fa', 'test_with_orfs_identified_nucleotide.fa', 'test_with_orfs_identified_protein.faa']) {
    assert.equal(readFileSync(join(out, name), 'utf8'), readFileSync(fixture(`torch-real/${name}`), 'utf8'), name);
  }
  assert.ok(s.framesKept > 0);
});

test('merging the real DNABERT-S and ESM-2 means reproduces merge_data’s 3328-d features exactly', async () => {
  const dna = (await readTorchFile(fixture('torch-real/output_1_DNABERT_S.pt'))).root as PyDict;
  const esm = (await readTorchFile(fixture('torch-real/output_1_ESM.pt'))).root as PyDict;
  const merged = (await readTorchFile(fixture('torch-real/output_1_merged.pt'))).root as PyDict;

  const dnaById = new Map<string, Float32Array>();
  for (const item of dna.get('data') as PyDict[]) {
    dnaById.set(item.get('label') as string, Float32Array.from(item.get('mean_representation') as number[]));
  }
  const esmIds = esm.get('proteins') as string[];
  const esmData = esm.get('data') as LazyTensor[];
  const esmById = new Map<string, Float32Array>();
  for (let i = 0; i < esmIds.length; i++) esmById.set(esmIds[i], await readFloat32(esmData[i]));

  const ids = merged.get('ids') as string[];
  const { features, dim } = mergeFeatures(
    ids.map((id) => dnaById.get(id)!),
    ids.map((id) => esmById.get(id)!),
  );
  assert.equal(dim, 768 + 2560);
  const want = await readFloat32(merged.get('data') as LazyTensor);
  assert.equal(want.length, features.length);
  assert.deepEqual(features, want);
});
