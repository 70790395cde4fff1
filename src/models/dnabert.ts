/**
 * DNABERT-S (DNABERT-2 / MosaicBERT `bert_layers.BertModel`, pure-PyTorch
 * attention path) as an ONNX graph, with VirNucPro's pooling.
 *
 * Inputs:  input_ids [B, T] int64, attention_mask [B, T] int64 (1 = token, 0 = padding).
 * Output:  embedding [B, hidden] float32 = mean of the last hidden state over
 *          ALL real tokens, [CLS] and [SEP] included (units.extract_DNABERT_S).
 *
 * VirNucPro runs one sequence per forward with no mask. To batch, padding is
 * masked as keys and left out of the mean, so a batched row equals the
 * unbatched result. Numerics-changing choices of the reference, in order:
 *   x = LN(word_emb[ids] + token_type_emb[0])                  (eps = config.layerNormEps, 1e-12 in DNABERT-S)
 *   scores = (q k^T) / sqrt(head_dim) + alibi                   (ALiBi bias -slope_h * |i - j|, slopes below)
 *   x = LN(dense(softmax(scores) v) + x)                        (post-LN)
 *   x = LN(wo(gelu_erf(g[:, :I]) * g[:, I:]) + x), g = gated_layers(x)   (GELU on the FIRST half)
 */
import { GraphBuilder } from '../formats/onnx/graph.js';
import { HeadLayout, LayerBuilder, attention, computeTypeOf, keyPaddingBias, maskedMean, type Precision } from '../formats/onnx/layers.js';
import type { TensorMap } from '../formats/tensor.js';
import type { DnabertConfig } from './config.js';

export interface DnabertGraphOptions {
  precision: Precision;
  /** Also output every layer's hidden states (hidden_0 = embeddings, hidden_L = last), for debugging. */
  hiddenStates?: boolean;
}

export const DNABERT_INPUTS = { ids: 'input_ids', mask: 'attention_mask' } as const;
export const EMBEDDING_OUTPUT = 'embedding';

/** ALiBi head slopes of MosaicBERT (`_get_alibi_head_slopes`), including non-power-of-two head counts. */
export function alibiSlopes(heads: number): number[] {
  const powerOfTwo = (n: number): number[] => {
    const start = 2 ** -(2 ** -(Math.log2(n) - 3));
    return Array.from({ length: n }, (_, k) => start ** (k + 1));
  };
  if (Number.isInteger(Math.log2(heads))) return powerOfTwo(heads);
  const closest = 2 ** Math.floor(Math.log2(heads));
  const extra = powerOfTwo(2 * closest).filter((_, k) => k % 2 === 0);
  return [...powerOfTwo(closest), ...extra.slice(0, heads - closest)];
}

export function buildDnabertGraph(config: DnabertConfig, weights: TensorMap, options: DnabertGraphOptions, source = 'DNABERT-S'): GraphBuilder {
  const { numLayers, hiddenSize: H, numHeads, intermediateSize: I, vocabSize, typeVocabSize, layerNormEps: eps } = config;
  if (H % numHeads !== 0) throw new Error(`${source}: hidden size ${H} is not divisible by ${numHeads} heads`);
  const headDim = H / numHeads;
  const g = new GraphBuilder('virnucpro_dnabert_s', 18);
  const nn = new LayerBuilder(g, weights, computeTypeOf(options.precision), source);

  const ids = g.input(DNABERT_INPUTS.ids, 'int64', ['batch', 'tokens']);
  const mask = g.input(DNABERT_INPUTS.mask, 'int64', ['batch', 'tokens']);
  const shapeBT = g.node('Shape', [ids]);
  const heads = new HeadLayout(g, shapeBT, numHeads, headDim);
  const toRows = (x: string) => g.node('Reshape', [x, g.ints([-1, H])]);
  const toBTH = (x: string) => g.node('Reshape', [x, g.node('Concat', [shapeBT, g.ints([H])], { axis: 0 })]);

  // embeddings: word + token type 0, then LayerNorm
  const words = g.node('Gather', [nn.param('embeddings.word_embeddings.weight', [vocabSize, H]), ids]);
  const type0 = g.node('Gather', [nn.param('embeddings.token_type_embeddings.weight', [typeVocabSize, H]), g.constant('int64', [], [0])]);
  let x = nn.layerNorm(toRows(g.node('Add', [words, type0])), 'embeddings.LayerNorm', H, eps);
  const hidden: string[] = [x];

  // attention bias: ALiBi [heads, T, T] + key padding [B, 1, 1, T]
  const pos = g.node('Cast', [g.node('Range', [g.constant('int64', [], [0]), g.node('Gather', [shapeBT, g.constant('int64', [], [1])]), g.constant('int64', [], [1])])], { to: 1 });
  const distance = g.node('Abs', [g.node('Sub', [g.node('Unsqueeze', [pos, g.ints([0])]), g.node('Unsqueeze', [pos, g.ints([1])])])]);
  const slopes = g.constant('float32', [numHeads, 1, 1], alibiSlopes(numHeads));
  let alibi = g.node('Mul', [slopes, g.node('Neg', [distance])]);
  if (nn.compute !== 'float32') alibi = nn.cast(alibi, nn.compute);
  const bias = g.node('Add', [alibi, keyPaddingBias(nn, mask)]);

  for (let i = 0; i < numLayers; i++) {
    const p = `encoder.layer.${i}`;
    const qkv = nn.linear(x, `${p}.attention.self.Wqkv`, H, 3 * H);
    const [q, k, v] = g.nodeMulti('Split', [qkv, g.ints([H, H, H])], 3, { axis: 1 }).map((t) => heads.split(t));
    const context = heads.merge(attention(nn, q, k, v, bias, Math.sqrt(headDim)));
    x = nn.layerNorm(g.node('Add', [nn.linear(context, `${p}.attention.output.dense`, H, H), x]), `${p}.attention.output.LayerNorm`, H, eps);

    const gatedUp = nn.linear(x, `${p}.mlp.gated_layers`, H, 2 * I, { bias: false });
    const [gated, nonGated] = g.nodeMulti('Split', [gatedUp, g.ints([I, I])], 2, { axis: 1 });
    const mlp = nn.linear(g.node('Mul', [nn.gelu(gated), nonGated]), `${p}.mlp.wo`, I, H);
    x = nn.layerNorm(g.node('Add', [mlp, x]), `${p}.mlp.layernorm`, H, eps);
    hidden.push(x);
  }

  g.output(maskedMean(g, toBTH(x), mask), EMBEDDING_OUTPUT, 'float32', ['batch', H]);
  if (options.hiddenStates) {
    hidden.forEach((h, k) => g.output(nn.compute === 'float32' ? toBTH(h) : nn.cast(toBTH(h), 'float32'), `hidden_${k}`, 'float32', ['batch', 'tokens', H]));
  }
  g.metadata.set('virnucpro.model', 'dnabert-s');
  g.metadata.set('virnucpro.precision', options.precision);
  return g;
}
