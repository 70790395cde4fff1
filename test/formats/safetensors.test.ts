import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readSafetensors } from '../../src/formats/safetensors.js';
import { readFloat32 } from '../../src/formats/tensor.js';
import { fixture } from '../helpers.js';

test('reads the tiny ESM-2 safetensors with the shapes its config implies', async () => {
  const f = readSafetensors(fixture('esm2/hf/model.safetensors'));
  assert.equal(f.metadata.format, 'pt');
  const emb = f.tensors.get('esm.embeddings.word_embeddings.weight');
  assert.ok(emb);
  assert.deepEqual(emb.shape, [33, 32]);
  assert.equal(emb.dtype, 'float32');
  const inv = f.tensors.get('esm.encoder.layer.0.attention.self.rotary_embeddings.inv_freq');
  assert.ok(inv);
  assert.deepEqual(Array.from(await readFloat32(inv)), [1, 0.0999755859375, 0.01000213623046875, 0.0010004043579101562]);
});
