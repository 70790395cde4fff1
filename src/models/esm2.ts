/**
 * ESM-2 (fair-esm `esm/model/esm2.py`) as an ONNX graph, with VirNucPro's pooling.
 *
 * Input:   tokens [B, T] int64 (<cls> residues <eos>, right-padded with config.padIdx).
 * Output:  embedding [B, embedDim] float32 = mean of the final representation
 *          (after emb_layer_norm_after) over residues 1..min(1024, len)
 *          (units.extract_esm: `rep[i, 1 : min(1024, len) + 1].mean(0)`).
 *
 * Numerics-changing choices of the reference, in order:
 *   x = embed_tokens[tokens]; token dropout: zero <mask> rows, x = x * (1 - 0.15*0.8) / (1 - masks/nonpad)
 *       (so x0.88 even without masks; only when config.tokenDropout); zero padded rows
 *   per layer (pre-LN, eps = config.layerNormEps):
 *     q = q_proj(LN1(x)) * head_dim^-0.5, k, v; rotary on q and k (rotate-half form, cos/sin of
 *     position * the checkpoint's own inv_freq, duplicated over both halves); key padding masked;
 *     softmax in float32; x += out_proj(attn)
 *     x += fc2(gelu_erf(fc1(LN2(x))))
 *   x = emb_layer_norm_after(x)
 */
import { GraphBuilder } from '../formats/onnx/graph.js';
import { HeadLayout, LayerBuilder, attention, computeTypeOf, keyPaddingBias, maskedMean, type Precision } from '../formats/onnx/layers.js';
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
  const heads = new HeadLayout(g, shapeBT, numHeads, headDim);
  const toBTE = (x: string) => g.node('Reshape', [x, g.node('Concat', [shapeBT, g.ints([E])], { axis: 0 })]);
  const nonPad = g.node('Not', [g.node('Equal', [tokens, i64(config.padIdx)])]);
  const nonPadF = g.node('Cast', [nonPad], { to: OnnxDataType.float32 });

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
  const hidden: string[] = [x];
  x = g.node('Reshape', [x, g.ints([-1, E])]);
  if (nn.compute !== 'float32') x = nn.cast(x, nn.compute);

  const bias = keyPaddingBias(nn, nonPad);
  const positions = g.node('Cast', [g.node('Range', [i64(0), g.node('Gather', [shapeBT, i64(1)]), i64(1)])], { to: OnnxDataType.float32 });
  const scaling = headDim ** -0.5;

  for (let i = 0; i < numLayers; i++) {
    const p = `layers.${i}`;
    const h = nn.layerNorm(x, `${p}.self_attn_layer_norm`, E, eps);
    const rotary = rotaryTables(nn, positions, nn.param(`${p}.self_attn.rot_emb.inv_freq`, [headDim / 2], 'float32'));
    const q = applyRotary(nn, heads.split(g.node('Mul', [nn.linear(h, `${p}.self_attn.q_proj`, E, E), nn.scalar(scaling)])), rotary, headDim);
    const k = applyRotary(nn, heads.split(nn.linear(h, `${p}.self_attn.k_proj`, E, E)), rotary, headDim);
    const v = heads.split(nn.linear(h, `${p}.self_attn.v_proj`, E, E));
    x = g.node('Add', [x, nn.linear(heads.merge(attention(nn, q, k, v, bias)), `${p}.self_attn.out_proj`, E, E)]);

    const ffn = nn.linear(nn.gelu(nn.linear(nn.layerNorm(x, `${p}.final_layer_norm`, E, eps), `${p}.fc1`, E, F)), `${p}.fc2`, F, E);
    x = g.node('Add', [x, ffn]);
    if (i < numLayers - 1) hidden.push(toBTE(x));
  }
  x = toBTE(nn.layerNorm(x, 'emb_layer_norm_after', E, eps));
  hidden.push(x);

  // VirNucPro pooling window: positions 1..min(1024, residues), residues = non-pad tokens - 2 (<cls>, <eos>)
  const pos = g.node('Unsqueeze', [g.node('Range', [i64(0), g.node('Gather', [shapeBT, i64(1)]), i64(1)]), g.ints([0])]);
  const residues = g.node('Sub', [g.node('ReduceSum', [g.node('Cast', [nonPad], { to: OnnxDataType.int64 }), g.ints([1])], { keepdims: 1 }), i64(2)]);
  const last = g.node('Min', [residues, i64(VIRNUCPRO_MEAN_WINDOW)]);
  const window = g.node('And', [g.node('GreaterOrEqual', [pos, i64(1)]), g.node('LessOrEqual', [pos, last])]);
  g.output(maskedMean(g, x, window), EMBEDDING_OUTPUT, 'float32', ['batch', E]);

  if (options.hiddenStates) {
    hidden.forEach((t, k) => g.output(nn.compute === 'float32' || k === 0 ? t : nn.cast(t, 'float32'), `hidden_${k}`, 'float32', ['batch', 'tokens', E]));
  }
  g.metadata.set('virnucpro.model', 'esm2');
  g.metadata.set('virnucpro.precision', options.precision);
  return g;
}

interface RotaryTables {
  cos: string;
  sin: string;
}

/** cos/sin [T, headDim] of position * inv_freq, duplicated over both halves (fair-esm RotaryEmbedding). */
function rotaryTables(nn: LayerBuilder, positions: string, invFreq: string): RotaryTables {
  const g = nn.g;
  const freqs = g.node('Mul', [g.node('Unsqueeze', [positions, g.ints([1])]), invFreq]);
  const emb = g.node('Concat', [freqs, freqs], { axis: -1 });
  const cos = g.node('Cos', [emb]);
  const sin = g.node('Sin', [emb]);
  return nn.compute === 'float32' ? { cos, sin } : { cos: nn.cast(cos, nn.compute), sin: nn.cast(sin, nn.compute) };
}

/** x * cos + rotate_half(x) * sin, rotate_half(x) = [-x2, x1] for x [B, heads, T, d]. */
function applyRotary(nn: LayerBuilder, x: string, t: RotaryTables, headDim: number): string {
  const g = nn.g;
  const [x1, x2] = g.nodeMulti('Split', [x, g.ints([headDim / 2, headDim / 2])], 2, { axis: -1 });
  const rotated = g.node('Concat', [g.node('Neg', [x2]), x1], { axis: -1 });
  return g.node('Add', [g.node('Mul', [x, t.cos]), g.node('Mul', [rotated, t.sin])]);
}
