import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Classifier } from '../../src/runtime/embedders.js';
import { classifierFromJson, maxAbsDiff, readJson } from '../runtime/fixture-models.js';

test('classifier probabilities match every fixture case within 1e-5, batched and one row at a time', async () => {
  const cases = readJson('mlp/expected.json').cases as Array<{ name: string; input: number[]; softmax: number[]; prediction: string }>;
  const clf = await Classifier.create(classifierFromJson(), { threads: 1 });
  try {
    const features = Float32Array.from(cases.flatMap((c) => c.input));
    const all = await clf.classify(features, cases.length);
    for (const [i, c] of cases.entries()) {
      const row = all.subarray(2 * i, 2 * i + 2);
      assert.ok(maxAbsDiff(row, c.softmax) <= 1e-5, `${c.name}: ${[...row]} vs ${c.softmax}`);
      assert.equal(row[1] > row[0] ? 'virus' : 'others', c.prediction, c.name);
      const single = await clf.classify(Float32Array.from(c.input), 1);
      assert.ok(maxAbsDiff(single, c.softmax) <= 1e-5, c.name);
    }
    await assert.rejects(clf.classify(new Float32Array(79), 1), /80/);
  } finally {
    await clf.close();
  }
});
