/**
 * ESM-2 (fair-esm `esm/model/esm2.py` ESM2.forward, whose layers are
 * `esm/modules.py` TransformerLayer) as an ONNX graph, with VirNucPro's pooling.
 *
 * Input:   tokens [B, T] int64 (<cls> residues <eos>, right-padded with config.padIdx).
 * Output:  embedding [B, embedDim] float32 = mean of the final representation
 *          (after emb_layer_norm_after) over residues 1..min(1024, len)
 *          (units.extract_esm: `rep[i, 1 : min(1024, len) + 1].mean(0)`).
 *
 * buildEsm2Graph follows ESM2.forward step by step; the comments in it quote the reference
 * lines each step implements. Numerics-changing choices of the reference, in order:
 *   x = embed_tokens[tokens]; token dropout: zero <mask> rows, x = x * (1 - 0.15*0.8) / (1 - masks/nonpad)
 *       (so x0.88 even without masks; only when config.tokenDropout); zero padded rows
 *   per layer (TransformerLayer.forward, pre-LN, eps = config.layerNormEps):
 *     residual = x; x = self_attn_layer_norm(x)
 *     q = q_proj(x), k, v; rotary on q and k (rotate-half form, cos/sin of position * the
 *     checkpoint's own inv_freq); scores scaled by head_dim^-0.5 (fair-esm's MultiheadAttention
 *     scales q before the rotation, which is linear: same result up to float rounding); key
 *     padding masked; softmax in float32; x = residual + out_proj(attn)
 *     residual = x; x = final_layer_norm(x); x = residual + fc2(gelu_erf(fc1(x)))
 *   x = emb_layer_norm_after(x)
 *
 * What is fused and what is not: rotary is com.microsoft RotaryEmbedding (one node per q and
 * k). Attention is plain MatMul/Softmax ops (SelfAttention in formats/onnx/layers.ts says
 * why), with key padding as one additive bias (0 or MASKED_SCORE per key) built once per
 * forward pass and shared by every layer. Each residual add is a plain Add, and each
 * LayerNorm its own LayerNormalization node: no SkipLayerNormalization (layers.ts says why).
 */
import { GraphBuilder } from '../formats/onnx/graph.js';
import { LayerBuilder, MS_DOMAIN, SelfAttention, computeTypeOf, keyPaddingBias, maskedMean, type Precision } from '../formats/onnx/layers.js';
import { OnnxDataType } from '../formats/onnx/proto.js';
import type { TensorMap } from '../formats/tensor.js';
import type { Esm2Config } from './config.js';

/** VirNucPro averages at most this many residues (the first ones) per protein. */
export const VIRNUCPRO_MEAN_WINDOW = 1024;
/** fair-esm's training mask ratio (15% masked, 80% of those as <mask>), undone at inference. */
const TOKEN_DROPOUT_TRAIN_RATIO = 0.15 * 0.8;

export interface Esm2GraphOptions {
  precision: Precision;
  /** Also output the representation after each layer (hidden_0 = embeddings after token dropout, hidden_L = after emb_layer_norm_after). */
  hiddenStates?: boolean;
}

export const ESM2_INPUT = 'tokens';
export const EMBEDDING_OUTPUT = 'embedding';

export function buildEsm2Graph(config: Esm2Config, weights: TensorMap, options: Esm2GraphOptions, source = 'ESM-2'): GraphBuilder {
  const { numLayers, embedDim: E, numHeads, ffnDim: F, vocabSize, layerNormEps: eps } = config;
  if (E % numHeads !== 0) throw new Error(`${source}: embed dim ${E} is not divisible by ${numHeads} heads`);
  const headDim = E / numHeads;
  const g = new GraphBuilder('virnucpro_esm2', 18);
  const nn = new LayerBuilder(g, weights, computeTypeOf(options.precision), source);
  const i64 = (v: number) => g.constant('int64', [], [v]);

  const tokens = g.input(ESM2_INPUT, 'int64', ['batch', 'tokens']);
  const shapeBT = g.node('Shape', [tokens]);
  const nonPad = g.node('Not', [g.node('Equal', [tokens, i64(config.padIdx)])]);
  const nonPadF = g.node('Cast', [nonPad], { to: OnnxDataType.float32 });
  const attention = new SelfAttention(nn, shapeBT, keyPaddingBias(g, nonPad), numHeads, E);

  // embeddings with token dropout (computed in float32), padded rows zeroed
  let x = g.node('Gather', [nn.param('embed_tokens.weight', [vocabSize, E], 'float32'), tokens]);
  if (config.tokenDropout) {
    const isMask = g.node('Equal', [tokens, i64(config.maskIdx)]);
    x = g.node('Where', [g.node('Unsqueeze', [isMask, g.ints([2])]), g.scalar(0), x]);
    const masked = g.node('ReduceSum', [g.node('Cast', [isMask], { to: OnnxDataType.float32 }), g.ints([1])], { keepdims: 1 });
    const observed = g.node('Div', [masked, g.node('ReduceSum', [nonPadF, g.ints([1])], { keepdims: 1 })]);
    const denominator = g.node('Unsqueeze', [g.node('Sub', [g.scalar(1), observed]), g.ints([2])]);
    x = g.node('Div', [g.node('Mul', [x, g.scalar(1 - TOKEN_DROPOUT_TRAIN_RATIO)]), denominator]);
  }
  x = g.node('Mul', [x, g.node('Unsqueeze', [nonPadF, g.ints([2])])]);
  // ESM2.forward: hidden_representations[0] = x
  const hidden: string[] = [x];
  // The residual stream x stays float32 and 2-D [B*T, E] through every layer.
  x = g.node('Reshape', [x, g.ints([-1, E])]);

  const positions = g.node('Cast', [g.node('Range', [i64(0), g.node('Gather', [shapeBT, i64(1)]), i64(1)])], { to: OnnxDataType.float32 });
  const rotaryStart = g.ints([0]);

  /** MultiheadAttention.forward (esm/multihead_attention.py) of layer `p` on its LayerNorm output h (compute dtype). */
  const selfAttention = (p: string, h: string): string => {
    const rotary = rotaryTables(nn, positions, nn.param(`${p}.self_attn.rot_emb.inv_freq`, [headDim / 2], 'float32'));
    const rotate = (t: string) =>
      g.node('RotaryEmbedding', [t, rotaryStart, rotary.cos, rotary.sin], { interleaved: 0, num_heads: numHeads }, { domain: MS_DOMAIN });
    // q = self.q_proj(query); k = self.k_proj(query); v = self.v_proj(query); q, k = self.rot_emb(q, k)
    const q = rotate(attention.toBTE(nn.linear(h, `${p}.self_attn.q_proj`, E, E)));
    const k = rotate(attention.toBTE(nn.linear(h, `${p}.self_attn.k_proj`, E, E)));
    const v = attention.toBTE(nn.linear(h, `${p}.self_attn.v_proj`, E, E));
    // softmax(q k^T * scaling, key padding masked) v, then self.out_proj
    return nn.linear(attention.attend(q, k, v, headDim ** -0.5), `${p}.self_attn.out_proj`, E, E);
  };

  for (let i = 0; i < numLayers; i++) {
    // TransformerLayer.forward (esm/modules.py)
    const p = `layers.${i}`;
    // residual = x; x = self.self_attn_layer_norm(x); x, attn = self.self_attn(query=x, key=x, value=x, ...)
    const attn = selfAttention(p, nn.toCompute(nn.layerNorm32(x, `${p}.self_attn_layer_norm`, E, eps)));
    // x = residual + x
    x = nn.residualAdd(attn, x);
    // residual = x; x = self.final_layer_norm(x); x = gelu(self.fc1(x)); x = self.fc2(x)
    const h = nn.toCompute(nn.layerNorm32(x, `${p}.final_layer_norm`, E, eps));
    const ffn = nn.linear(nn.gelu(nn.linear(h, `${p}.fc1`, E, F)), `${p}.fc2`, F, E);
    // x = residual + x
    x = nn.residualAdd(ffn, x);
    // ESM2.forward: hidden_representations[layer_idx + 1] = x (the last layer's after emb_layer_norm_after, below)
    if (i < numLayers - 1) hidden.push(attention.toBTE(x));
  }
  // x = self.emb_layer_norm_after(x)
  x = attention.toBTE(nn.layerNorm32(x, 'emb_layer_norm_after', E, eps));
  hidden.push(x);

  // VirNucPro pooling window: positions 1..min(1024, residues), residues = non-pad tokens - 2 (<cls>, <eos>)
  const pos = g.node('Unsqueeze', [g.node('Range', [i64(0), g.node('Gather', [shapeBT, i64(1)]), i64(1)]), g.ints([0])]);
  const residues = g.node('Sub', [g.node('ReduceSum', [g.node('Cast', [nonPad], { to: OnnxDataType.int64 }), g.ints([1])], { keepdims: 1 }), i64(2)]);
  const last = g.node('Min', [residues, i64(VIRNUCPRO_MEAN_WINDOW)]);
  const window = g.node('And', [g.node('GreaterOrEqual', [pos, i64(1)]), g.node('LessOrEqual', [pos, last])]);
  g.output(maskedMean(g, x, window), EMBEDDING_OUTPUT, 'float32', ['batch', E]);

  if (options.hiddenStates) {
    hidden.forEach((t, k) => g.output(t, `hidden_${k}`, 'float32', ['batch', 'tokens', E]));
  }
  g.metadata.set('virnucpro.model', 'esm2');
  g.metadata.set('virnucpro.precision', options.precision);
  return g;
}

interface RotaryTables {
  cos: string;
  sin: string;
}

/**
 * cos/sin caches [T, headDim/2] of position * inv_freq (fair-esm RotaryEmbedding, whose
 * duplicated halves RotaryEmbedding with interleaved=0 applies to both halves), float32.
 */
function rotaryTables(nn: LayerBuilder, positions: string, invFreq: string): RotaryTables {
  const g = nn.g;
  const freqs = g.node('Mul', [g.node('Unsqueeze', [positions, g.ints([1])]), invFreq]);
  return { cos: g.node('Cos', [freqs]), sin: g.node('Sin', [freqs]) };
}
