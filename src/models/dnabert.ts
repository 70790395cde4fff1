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
 *
 * ALiBi and key padding are one additive attention bias [B, heads, T, T], built once per
 * forward pass and shared by every layer. The packed projections (Wqkv, gated_layers) are
 * split into separate Gemms when the graph is built (row slices of the stored weight).
 */
import { GraphBuilder } from '../formats/onnx/graph.js';
import { LayerBuilder, SelfAttention, computeTypeOf, keyPaddingBias, maskedMean, type Precision } from '../formats/onnx/layers.js';
import { OnnxDataType } from '../formats/onnx/proto.js';
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
  // One attention bias for every layer, [B, heads, T, T]: ALiBi (-slope_h * |i - j|) plus key padding.
  const pos = g.node('Cast', [g.node('Range', [g.constant('int64', [], [0]), g.node('Gather', [shapeBT, g.constant('int64', [], [1])]), g.constant('int64', [], [1])])], { to: OnnxDataType.float32 });
  const distance = g.node('Abs', [g.node('Sub', [g.node('Unsqueeze', [pos, g.ints([0])]), g.node('Unsqueeze', [pos, g.ints([1])])])]);
  const slopes = g.constant('float32', [1, numHeads, 1, 1], alibiSlopes(numHeads).map((s) => -s));
  const keep = g.node('Cast', [mask], { to: OnnxDataType.bool });
  const bias = g.node('Add', [g.node('Mul', [slopes, distance]), keyPaddingBias(g, keep)]);
  const attention = new SelfAttention(nn, shapeBT, bias, numHeads, H);

  // embeddings: word + token type 0, then LayerNorm; x (float32, 2-D [B*T, H]) is each layer's output
  const words = g.node('Gather', [nn.param('embeddings.word_embeddings.weight', [vocabSize, H]), ids]);
  const type0 = g.node('Gather', [nn.param('embeddings.token_type_embeddings.weight', [typeVocabSize, H]), g.constant('int64', [], [0])]);
  let x = nn.layerNorm32(nn.toFloat32(g.node('Reshape', [g.node('Add', [words, type0]), g.ints([-1, H])])), 'embeddings.LayerNorm', H, eps);
  const hidden: string[] = [x];

  for (let i = 0; i < numLayers; i++) {
    const p = `encoder.layer.${i}`;
    const xc = nn.toCompute(x);
    const [q, k, v] = ['q', 'k', 'v'].map((part, j) => {
      const w = nn.paramRows(`${p}.attention.self.Wqkv.weight`, [3 * H, H], j * H, H, part);
      const bias = nn.paramRows(`${p}.attention.self.Wqkv.bias`, [3 * H], j * H, H, part);
      return attention.toBTE(g.node('Gemm', [xc, w, bias], { transB: 1 }));
    });
    const context = attention.attend(q, k, v, 1 / Math.sqrt(headDim));
    x = nn.residualLayerNorm(nn.linear(context, `${p}.attention.output.dense`, H, H), x, `${p}.attention.output.LayerNorm`, H, eps).normed;

    const xc2 = nn.toCompute(x);
    const [gated, nonGated] = ['gated', 'non_gated'].map((part, j) =>
      g.node('Gemm', [xc2, nn.paramRows(`${p}.mlp.gated_layers.weight`, [2 * I, H], j * I, I, part)], { transB: 1 }),
    );
    const mlp = nn.linear(g.node('Mul', [nn.gelu(gated), nonGated]), `${p}.mlp.wo`, I, H);
    x = nn.residualLayerNorm(mlp, x, `${p}.mlp.layernorm`, H, eps).normed;
    hidden.push(x);
  }

  g.output(maskedMean(g, attention.toBTE(x), keep), EMBEDDING_OUTPUT, 'float32', ['batch', H]);
  if (options.hiddenStates) {
    hidden.forEach((h, k) => g.output(attention.toBTE(h), `hidden_${k}`, 'float32', ['batch', 'tokens', H]));
  }
  g.metadata.set('virnucpro.model', 'dnabert-s');
  g.metadata.set('virnucpro.precision', options.precision);
  return g;
}
