/**
 * DNABERT-S (DNABERT-2 / MosaicBERT `bert_layers.py` BertModel, pure-PyTorch
 * attention path: flash attention off) as an ONNX graph, with VirNucPro's pooling.
 *
 * Inputs:  input_ids [B, T] int64, attention_mask [B, T] int64 (1 = token, 0 = padding).
 * Output:  embedding [B, hidden] float32 = mean of the last hidden state over
 *          ALL real tokens, [CLS] and [SEP] included (units.extract_DNABERT_S).
 *
 * VirNucPro runs one sequence per forward with no mask. To batch, padding is
 * masked as keys and left out of the mean, so a batched row equals the
 * unbatched result. buildDnabertGraph follows the reference's forward order; the
 * comments in it quote the reference lines each step implements. Numerics-changing
 * choices of the reference, in order:
 *   x = LN(word_emb[ids] + token_type_emb[0])        BertEmbeddings (eps = config.layerNormEps, 1e-12 in DNABERT-S)
 *   per layer (BertLayer, post-LN):
 *     scores = (q k^T) / sqrt(head_dim) + alibi      BertUnpadSelfAttention (ALiBi bias -slope_h * |i - j|,
 *                                                    slopes below); here q k^T * (1 / sqrt(head_dim)), exact
 *                                                    when sqrt(head_dim) is a power of two (8 in DNABERT-S)
 *     x = LN(dense(softmax(scores) v) + x)           BertSelfOutput
 *     x = LN(wo(gelu_erf(g[:, :I]) * g[:, I:]) + x), g = gated_layers(x)   BertGatedLinearUnitMLP
 *                                                    (GELU on the FIRST half)
 *
 * What is fused and what is not: ALiBi and key padding are one additive attention bias
 * [B, heads, T, T], built once per forward pass and shared by every layer; attention is
 * plain MatMul/Softmax ops (SelfAttention in formats/onnx/layers.ts says why). The packed
 * projections (Wqkv, gated_layers) are split into separate Gemms when the graph is built
 * (row slices of the stored weight), not sliced per forward pass. Each residual add and its
 * LayerNorm are two nodes, Add then LayerNormalization (LayerBuilder.residualLayerNorm),
 * not SkipLayerNormalization (layers.ts says why).
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

  // BertEmbeddings: self.LayerNorm(word_embeddings(input_ids) + token_type_embeddings(0)); x (float32,
  // 2-D [B*T, H]) is each layer's output from here on
  const words = g.node('Gather', [nn.param('embeddings.word_embeddings.weight', [vocabSize, H]), ids]);
  const type0 = g.node('Gather', [nn.param('embeddings.token_type_embeddings.weight', [typeVocabSize, H]), g.constant('int64', [], [0])]);
  let x = nn.layerNorm32(nn.toFloat32(g.node('Reshape', [g.node('Add', [words, type0]), g.ints([-1, H])])), 'embeddings.LayerNorm', H, eps);
  const hidden: string[] = [x];

  for (let i = 0; i < numLayers; i++) {
    const p = `encoder.layer.${i}`;
    // BertUnpadSelfAttention: qkv = self.Wqkv(hidden_states), split into q, k, v
    const xc = nn.toCompute(x);
    const [q, k, v] = ['q', 'k', 'v'].map((part, j) => {
      const w = nn.paramRows(`${p}.attention.self.Wqkv.weight`, [3 * H, H], j * H, H, part);
      const bias = nn.paramRows(`${p}.attention.self.Wqkv.bias`, [3 * H], j * H, H, part);
      return attention.toBTE(g.node('Gemm', [xc, w, bias], { transB: 1 }));
    });
    // attention_scores = matmul(q, k) / sqrt(head_size) + bias; softmax; matmul(attention_probs, v)
    const context = attention.attend(q, k, v, 1 / Math.sqrt(headDim));
    // BertSelfOutput: hidden_states = self.LayerNorm(self.dense(hidden_states) + input_tensor)
    x = nn.residualLayerNorm(nn.linear(context, `${p}.attention.output.dense`, H, H), x, `${p}.attention.output.LayerNorm`, H, eps);

    // BertGatedLinearUnitMLP: residual_connection = hidden_states; hidden_states = self.gated_layers(hidden_states)
    const xc2 = nn.toCompute(x);
    const [gated, nonGated] = ['gated', 'non_gated'].map((part, j) =>
      g.node('Gemm', [xc2, nn.paramRows(`${p}.mlp.gated_layers.weight`, [2 * I, H], j * I, I, part)], { transB: 1 }),
    );
    // hidden_states = self.act(gated) * non_gated; hidden_states = self.wo(hidden_states)
    const mlp = nn.linear(g.node('Mul', [nn.gelu(gated), nonGated]), `${p}.mlp.wo`, I, H);
    // hidden_states = self.layernorm(hidden_states + residual_connection)
    x = nn.residualLayerNorm(mlp, x, `${p}.mlp.layernorm`, H, eps);
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
