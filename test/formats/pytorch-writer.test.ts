import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { readTorchFile, TorchTensor } from '../../src/formats/pytorch/checkpoint.js';
import { readZipDirectory } from '../../src/formats/pytorch/zip.js';
import { PyDict } from '../../src/formats/pytorch/pickle.js';
import { writeTorchStateDict } from '../../src/formats/pytorch/writer.js';
import { memoryTensor, type LazyTensor, type TensorMap } from '../../src/formats/tensor.js';
import { loadEsm2, readWeightsFile } from '../../src/models/load.js';
import { fixture, tempDir } from '../helpers.js';

function bytesOf(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 17) & 0xff;
  return b;
}

test('round trip: dtypes, scalars, tied tensors; 64-byte aligned records with correct CRCs', async () => {
  const tied = memoryTensor('float16', [3, 5], bytesOf(30, 1));
  const entries: TensorMap = new Map<string, LazyTensor>([
    ['a.weight', tied],
    ['b.bias', memoryTensor('float32', [7], bytesOf(28, 2))],
    ['c.bf16', memoryTensor('bfloat16', [2, 2, 2], bytesOf(16, 3))],
    ['d.f64', memoryTensor('float64', [3], bytesOf(24, 4))],
    ['e.count', memoryTensor('int64', [], bytesOf(8, 5))],
    ['f.empty', memoryTensor('float32', [0, 4], new Uint8Array(0))],
    ['g.tied', tied],
  ]);
  const path = join(tempDir(), 'sd.pth');
  await writeTorchStateDict(path, entries);
  const ckpt = await readTorchFile(path);
  assert.equal(ckpt.prefix, 'sd/');
  assert.deepEqual(ckpt.pickle.globals.slice(0, 3), ['collections OrderedDict', 'torch._utils _rebuild_tensor_v2', 'torch HalfStorage']);
  const root = ckpt.root as PyDict;
  assert.equal(root.className, 'collections.OrderedDict');
  assert.deepEqual([...root.keys()], [...entries.keys()]);
  for (const [k, t] of entries) {
    const r = root.get(k) as TorchTensor;
    assert.equal(r.dtype, t.dtype, k);
    assert.deepEqual(r.shape, t.shape, k);
    assert.deepEqual(await r.bytes(), await t.bytes(), k);
  }
  assert.equal((root.get('a.weight') as TorchTensor).storage, (root.get('g.tied') as TorchTensor).storage);
  const file = readFileSync(path);
  for (const rec of readZipDirectory(path).records) {
    if (rec.name.includes('/data/')) assert.equal(rec.dataOffset % 64, 0, rec.name);
    assert.equal(crc32(file.subarray(rec.dataOffset, rec.dataOffset + rec.size)), rec.crc32, rec.name);
  }
  assert.deepEqual(
    readZipDirectory(path).records.map((r) => r.name),
    ['sd/data.pkl', 'sd/byteorder', 'sd/data/0', 'sd/data/1', 'sd/data/2', 'sd/data/3', 'sd/data/4', 'sd/data/5', 'sd/version'],
  );
});

test('re-writing a fixture state_dict gives the same tensors (pytorch_model.bin)', async () => {
  const src = await readWeightsFile(fixture('dnabert-s/model/pytorch_model.bin'));
  const path = join(tempDir(), 'pytorch_model.bin');
  await writeTorchStateDict(path, src);
  const back = await readWeightsFile(path);
  assert.deepEqual([...back.keys()], [...src.keys()]);
  for (const [k, t] of src) assert.deepEqual(await back.get(k)!.bytes(), await t.bytes(), k);
});

test('fair-esm layout: what we write loads as the same ESM-2', async () => {
  const ref = await readTorchFile(fixture('esm2/fair-esm/esm2_t2_32_tiny.pt'));
  const state = new Map<string, LazyTensor>();
  for (const [k, v] of (ref.root as PyDict).get('model') as PyDict) state.set(k as string, v as LazyTensor);
  const path = join(tempDir(), 'esm2_t2_32_written.pt');
  await writeTorchStateDict(path, state, {
    layout: { kind: 'fair-esm', args: { encoder_layers: 2, encoder_embed_dim: 32, encoder_ffn_embed_dim: 128, encoder_attention_heads: 4, token_dropout: true } },
  });
  const a = await loadEsm2(fixture('esm2/fair-esm/esm2_t2_32_tiny.pt'));
  const b = await loadEsm2(path);
  assert.deepEqual(b.config, a.config);
  assert.deepEqual([...b.weights.keys()], [...a.weights.keys()]);
  for (const [k, t] of a.weights) assert.deepEqual(await b.weights.get(k)!.bytes(), await t.bytes(), k);
});

