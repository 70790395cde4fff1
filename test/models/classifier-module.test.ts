import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readTorchFile } from '../../src/formats/pytorch/checkpoint.js';
import { PyDict, PyObject } from '../../src/formats/pytorch/pickle.js';
import { moduleStateDict } from '../../src/formats/pytorch/module.js';
import { writeClassifierModule } from '../../src/models/classifier-module.js';
import { loadClassifier } from '../../src/models/load.js';
import { fixture, tempDir } from '../helpers.js';

test('classifier whole-module pickle: same structure and weights as torch.save(model)', async () => {
  const ref = await loadClassifier(fixture('mlp/mlp_full_module.pth'));
  const path = join(tempDir(), '500_model.pth');
  await writeClassifierModule(path, ref.weights, ref.config);
  const back = await loadClassifier(path);
  assert.equal(back.format, 'whole-module pickle (__main__.MLPClassifier)');
  assert.deepEqual(back.config, ref.config);
  assert.deepEqual([...back.weights.keys()], [...ref.weights.keys()]);
  for (const [k, t] of ref.weights) assert.deepEqual(await back.weights.get(k)!.bytes(), await t.bytes(), k);
  const ours = (await readTorchFile(path)).root as PyObject;
  const theirs = (await readTorchFile(fixture('mlp/mlp_full_module.pth'))).root as PyObject;
  assert.deepEqual(Object.keys(ours.attrs), Object.keys(theirs.attrs));
  for (const name of ['hidden_layer', 'bn1', 'output_layer', 'dropout']) {
    const o = (ours.attrs._modules as PyDict).get(name) as PyObject;
    const t = (theirs.attrs._modules as PyDict).get(name) as PyObject;
    assert.equal(o.className, t.className, name);
    assert.deepEqual(Object.keys(o.attrs).sort(), Object.keys(t.attrs).sort(), name);
  }
  assert.deepEqual([...moduleStateDict(ours).keys()], [...moduleStateDict(theirs).keys()]);
});

test('classifier whole-module pickle: a missing tensor is named, never written as a partial module', async () => {
  const ref = await loadClassifier(fixture('mlp/mlp_full_module.pth'));
  const weights = new Map(ref.weights);
  weights.delete('bn1.running_var');
  await assert.rejects(writeClassifierModule(join(tempDir(), 'x.pth'), weights, ref.config), /classifier weights lack 'bn1\.running_var'/);
  // num_batches_tracked is the one tensor a state_dict may lack: it is written as 0, as a fresh BatchNorm1d holds it.
  const noCount = new Map(ref.weights);
  noCount.delete('bn1.num_batches_tracked');
  const path = join(tempDir(), 'y.pth');
  await writeClassifierModule(path, noCount, ref.config);
  const back = await loadClassifier(path);
  assert.deepEqual(await back.weights.get('bn1.num_batches_tracked')!.bytes(), new Uint8Array(8));
});
