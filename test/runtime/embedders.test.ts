import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadClassifier, loadDnabert } from '../../src/models/load.js';
import { Classifier, DnabertEmbedder } from '../../src/runtime/embedders.js';
import { fixture, tempDir } from '../helpers.js';
import { maxAbsDiff, readJson } from './fixture-models.js';

const dna = readJson('dnabert-s/expected.json');
const mlp = readJson('mlp/expected.json');

test('DNABERT-S from model.safetensors and from pytorch_model.bin, via the loaders and the graph cache', async () => {
  const binOnly = join(tempDir(), 'dnabert-bin');
  mkdirSync(binOnly);
  for (const f of ['config.json', 'pytorch_model.bin', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(fixture(`dnabert-s/model/${f}`), join(binOnly, f));
  const cacheDir = tempDir();
  for (const dir of [fixture('dnabert-s/model'), binOnly]) {
    for (let run = 0; run < 2; run++) {
      const lines: string[] = [];
      const emb = await DnabertEmbedder.create(await loadDnabert(dir), { threads: 1, cacheDir, log: (l) => lines.push(l) });
      try {
        // The second run reuses the cached graph.
        assert.equal(lines.some((l) => l.includes('building the dnabert-s graph')), run === 0, lines.join('\n'));
        const out = await emb.embed(dna.sequences.map((s: { sequence: string }) => s.sequence));
        dna.sequences.forEach((s: { label: string; mean_representation: number[] }, i: number) =>
          assert.ok(maxAbsDiff(out[i], s.mean_representation) <= 5e-6, `${dir} ${s.label}`),
        );
      } finally {
        await emb.close();
      }
    }
  }
});

test('classifier from the whole-module pickle and from the state_dict', async () => {
  for (const f of ['mlp/mlp_full_module.pth', 'mlp/mlp_state_dict.pth']) {
    const clf = await Classifier.create(await loadClassifier(fixture(f)), { threads: 1, cacheDir: tempDir() });
    try {
      const probs = await clf.classify(Float32Array.from(mlp.cases.flatMap((c: { input: number[] }) => c.input)), mlp.cases.length);
      mlp.cases.forEach((c: { name: string; softmax: number[] }, i: number) =>
        assert.ok(maxAbsDiff(probs.subarray(2 * i, 2 * i + 2), c.softmax) <= 1e-5, `${f} ${c.name}`),
      );
    } finally {
      await clf.close();
    }
  }
});
