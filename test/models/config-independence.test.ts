/**
 * The graph builders follow their configs: models with sizes, head counts,
 * vocabularies and LayerNorm eps other than the fixtures' (random seeded
 * weights) run through the real runtime (Esm2Embedder / DnabertEmbedder,
 * batched with mixed lengths so padding is exercised) and must match the
 * float64 reference forward pass (reference-forward.ts) within 5e-6. The
 * reference itself is first checked against the fixtures, the oracle.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memoryTensor, type TensorMap } from '../../src/formats/tensor.js';
import type { DnabertConfig, Esm2Config, LoadedModel } from '../../src/models/config.js';
import { loadEsm2 } from '../../src/models/load.js';
import { DnabertEmbedder, Esm2Embedder } from '../../src/runtime/embedders.js';
import { fixture, tempDir } from '../helpers.js';
import { dnabertFromSafetensors, maxAbsDiff, readJson } from '../runtime/fixture-models.js';
import { dnabertReference, esm2Reference, referenceAlibiSlopes } from './reference-forward.js';
import { seededRandom } from '../../src/util/random.js';

const TOLERANCE = 5e-6;

// ---------------------------------------------------------------------------
// The reference against the fixtures

test('reference forward pass matches the ESM-2 fixture (one sequence per forward)', async (t) => {
  const expected = readJson('esm2/expected.json');
  const model = await loadEsm2(fixture('esm2/fair-esm/esm2_t2_32_tiny.pt'));
  const embed = await esm2Reference(model.config, model.weights);
  let worst = 0;
  for (const s of expected.sequences as { label: string; tokens: number[] }[]) {
    worst = Math.max(worst, maxAbsDiff(embed(s.tokens), expected.mean_representations_unbatched[s.label]));
  }
  t.diagnostic(`ESM-2 reference vs fixture: max |delta| ${worst.toExponential(2)}`);
  assert.ok(worst <= TOLERANCE, `max |delta| ${worst}`);
});

test('reference forward pass matches the DNABERT-S fixture, and its ALiBi slopes the fixture 12-head values', async (t) => {
  const expected = readJson('dnabert-s/expected.json');
  assert.deepEqual(referenceAlibiSlopes(12).map(Math.fround), expected.model.alibi_slopes);
  const model = dnabertFromSafetensors();
  const embed = await dnabertReference(model.config, model.weights);
  let worst = 0;
  for (const s of expected.sequences as { token_ids: number[]; mean_representation: number[] }[]) {
    worst = Math.max(worst, maxAbsDiff(embed(s.token_ids), s.mean_representation));
  }
  t.diagnostic(`DNABERT-S reference vs fixture: max |delta| ${worst.toExponential(2)}`);
  assert.ok(worst <= TOLERANCE, `max |delta| ${worst}`);
});

// ---------------------------------------------------------------------------
// Random models of other sizes


/** Builds float32 weights whose activations stay O(1): Linear weights of variance 1/in, LayerNorm weights near 1. */
class RandomWeights {
  readonly map: TensorMap = new Map();
  readonly random: () => number;
  constructor(seed: number) {
    this.random = seededRandom(seed);
  }

  uniform(name: string, shape: number[], center: number, halfWidth: number): void {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = center + halfWidth * (2 * this.random() - 1);
    this.map.set(name, memoryTensor('float32', shape, data));
  }

  linear(prefix: string, outDim: number, inDim: number, bias = true): void {
    this.uniform(`${prefix}.weight`, [outDim, inDim], 0, Math.sqrt(3 / inDim));
    if (bias) this.uniform(`${prefix}.bias`, [outDim], 0, 0.1);
  }

  layerNorm(prefix: string, dim: number): void {
    this.uniform(`${prefix}.weight`, [dim], 1, 0.3);
    this.uniform(`${prefix}.bias`, [dim], 0, 0.2);
  }

  /** Integers uniform in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo + 1));
  }
}

const ESM_ALPHABET = { vocabSize: 33, padIdx: 1, maskIdx: 32, clsIdx: 0, eosIdx: 2 };

function randomEsm2(sizes: Omit<Esm2Config, keyof typeof ESM_ALPHABET>, seed: number): LoadedModel<Esm2Config> {
  const config: Esm2Config = { ...sizes, ...ESM_ALPHABET };
  const { embedDim: E, ffnDim: F, numHeads } = config;
  const w = new RandomWeights(seed);
  w.uniform('embed_tokens.weight', [config.vocabSize, E], 0, 1);
  const headDim = E / numHeads;
  for (let i = 0; i < config.numLayers; i++) {
    const p = `layers.${i}`;
    w.layerNorm(`${p}.self_attn_layer_norm`, E);
    for (const proj of ['q', 'k', 'v', 'out']) w.linear(`${p}.self_attn.${proj}_proj`, E, E);
    // fair-esm's 10000^(-2i/d), perturbed per layer: the graph must use the stored values, not recompute them
    const invFreq = Float32Array.from({ length: headDim / 2 }, (_, k) => 10000 ** ((-2 * k) / headDim) * (1 + 0.1 * w.random()));
    w.map.set(`${p}.self_attn.rot_emb.inv_freq`, memoryTensor('float32', [headDim / 2], invFreq));
    w.layerNorm(`${p}.final_layer_norm`, E);
    w.linear(`${p}.fc1`, F, E);
    w.linear(`${p}.fc2`, E, F);
  }
  w.layerNorm('emb_layer_norm_after', E);
  return { kind: 'esm2', format: 'random (test)', config, weights: w.map, files: [] };
}

function randomDnabert(config: DnabertConfig, seed: number): LoadedModel<DnabertConfig> {
  const { hiddenSize: H, intermediateSize: I } = config;
  const w = new RandomWeights(seed);
  w.uniform('embeddings.word_embeddings.weight', [config.vocabSize, H], 0, 1);
  w.uniform('embeddings.token_type_embeddings.weight', [config.typeVocabSize, H], 0, 0.5);
  w.layerNorm('embeddings.LayerNorm', H);
  for (let i = 0; i < config.numLayers; i++) {
    const p = `encoder.layer.${i}`;
    w.linear(`${p}.attention.self.Wqkv`, 3 * H, H);
    w.linear(`${p}.attention.output.dense`, H, H);
    w.layerNorm(`${p}.attention.output.LayerNorm`, H);
    w.linear(`${p}.mlp.gated_layers`, 2 * I, H, false);
    w.linear(`${p}.mlp.wo`, H, I);
    w.layerNorm(`${p}.mlp.layernorm`, H);
  }
  return { kind: 'dnabert-s', format: 'random (test)', config, weights: w.map, files: [] };
}

/** Protein token sequences (<cls> residues <eos>) of the given residue counts; the second one holds <mask> tokens. */
function proteinTokens(residueCounts: number[], seed: number): Int32Array[] {
  const w = new RandomWeights(seed);
  return residueCounts.map((n, s) => {
    const tokens = [ESM_ALPHABET.clsIdx];
    for (let i = 0; i < n; i++) tokens.push(s === 1 && i % 3 === 0 ? ESM_ALPHABET.maskIdx : w.int(4, 30));
    tokens.push(ESM_ALPHABET.eosIdx);
    return Int32Array.from(tokens);
  });
}

/** DNA id sequences ([CLS]=1 ... [SEP]=2) with `n` ids drawn from the non-special part [5, vocab). */
function dnaIds(lengths: number[], vocabSize: number, seed: number): Int32Array[] {
  const w = new RandomWeights(seed);
  return lengths.map((n) => Int32Array.from([1, ...Array.from({ length: n }, () => w.int(5, vocabSize - 1)), 2]));
}

const ESM_CASES: { name: string; sizes: Omit<Esm2Config, keyof typeof ESM_ALPHABET>; residues: number[] }[] = [
  {
    name: '3 layers, 40 wide, 5 heads, ffn 72',
    sizes: { numLayers: 3, embedDim: 40, numHeads: 5, ffnDim: 72, tokenDropout: true, layerNormEps: 1e-5 },
    residues: [9, 30, 1, 57, 17],
  },
  {
    // > 1024 residues: VirNucPro averages only the first 1024
    name: '1 layer, 64 wide, 16 heads, ffn 256, a 1100-residue protein',
    sizes: { numLayers: 1, embedDim: 64, numHeads: 16, ffnDim: 256, tokenDropout: true, layerNormEps: 1e-5 },
    residues: [1100, 12, 3, 40],
  },
  {
    name: '2 layers, 48 wide, 3 heads, ffn 40, no token dropout, eps 1e-6',
    sizes: { numLayers: 2, embedDim: 48, numHeads: 3, ffnDim: 40, tokenDropout: false, layerNormEps: 1e-6 },
    residues: [25, 8, 2],
  },
];

ESM_CASES.forEach((c, n) => {
  test(`ESM-2 ${c.name}: batched graph embeddings match the reference`, async (t) => {
    const model = randomEsm2(c.sizes, 1000 + n);
    const tokens = proteinTokens(c.residues, 2000 + n);
    const reference = await esm2Reference(model.config, model.weights);
    const emb = await Esm2Embedder.create(model, { threads: 1, batchTokens: 1 << 20, cacheDir: tempDir() });
    try {
      const out = await emb.embedTokens(tokens);
      let worst = 0;
      tokens.forEach((seq, i) => {
        const d = maxAbsDiff(out[i], reference(seq));
        worst = Math.max(worst, d);
        assert.ok(d <= TOLERANCE, `sequence ${i} (${seq.length - 2} residues): max |delta| ${d}`);
      });
      t.diagnostic(`max |delta| ${worst.toExponential(2)}`);
    } finally {
      await emb.close();
    }
  });
});

const DNABERT_BASE = { typeVocabSize: 2, layerNormEps: 1e-12 };
const DNABERT_CASES: { name: string; config: DnabertConfig; lengths: number[] }[] = [
  {
    name: '3 layers, 40 hidden, 10 heads, intermediate 24, vocab 4096',
    config: { ...DNABERT_BASE, numLayers: 3, hiddenSize: 40, numHeads: 10, intermediateSize: 24, vocabSize: 4096 },
    lengths: [20, 3, 64, 1, 33],
  },
  {
    name: '1 layer, 32 hidden, 8 heads, intermediate 40, vocab 54',
    config: { ...DNABERT_BASE, numLayers: 1, hiddenSize: 32, numHeads: 8, intermediateSize: 40, vocabSize: 54 },
    lengths: [5, 50, 14],
  },
  {
    // longer than an alibi_starting_size of 16 would be (MosaicBERT rebuilds the ALiBi tensor: same values; the graph builds it per length)
    name: '2 layers, 24 hidden, 6 heads, intermediate 16, vocab 100, sequences up to 70 tokens',
    config: { ...DNABERT_BASE, numLayers: 2, hiddenSize: 24, numHeads: 6, intermediateSize: 16, vocabSize: 100 },
    lengths: [40, 7, 15, 70],
  },
  {
    name: '2 layers, 20 hidden, 5 heads, intermediate 12, vocab 54, eps 1e-5',
    config: { ...DNABERT_BASE, numLayers: 2, hiddenSize: 20, numHeads: 5, intermediateSize: 12, vocabSize: 54, layerNormEps: 1e-5 },
    lengths: [11, 30, 2],
  },
];

DNABERT_CASES.forEach((c, n) => {
  test(`DNABERT-S ${c.name}: batched graph embeddings match the reference`, async (t) => {
    const model = randomDnabert(c.config, 3000 + n);
    const ids = dnaIds(c.lengths, c.config.vocabSize, 4000 + n);
    const reference = await dnabertReference(model.config, model.weights);
    // The tokenizer is only loaded (embedTokens takes ids); in-memory weights need an explicit one.
    const emb = await DnabertEmbedder.create(model, {
      threads: 1,
      batchTokens: 1 << 20,
      cacheDir: tempDir(),
      tokenizerPath: fixture('dnabert-s/model/tokenizer.json'),
    });
    try {
      const out = await emb.embedTokens(ids);
      let worst = 0;
      ids.forEach((seq, i) => {
        const d = maxAbsDiff(out[i], reference(seq));
        worst = Math.max(worst, d);
        assert.ok(d <= TOLERANCE, `sequence ${i} (${seq.length} tokens): max |delta| ${d}`);
      });
      t.diagnostic(`max |delta| ${worst.toExponential(2)}`);
    } finally {
      await emb.close();
    }
  });
});
