/**
 * Model configurations and the canonical weight names every loader produces
 * and every graph builder consumes. Loaders (models/load.ts) translate each
 * source layout (fair-esm checkpoint, Hugging Face directory, whole-module
 * pickle, state_dict) into these names, so the graph builders see one layout.
 */
import type { TensorMap } from '../formats/tensor.js';

/**
 * ESM-2. Canonical names are fair-esm's with the `encoder.sentence_encoder.` /
 * `encoder.` prefix stripped (what `esm.pretrained` loads into `ESM2`):
 *   embed_tokens.weight [V, E]
 *   layers.{i}.self_attn.{q,k,v,out}_proj.{weight,bias}
 *   layers.{i}.self_attn.rot_emb.inv_freq [head_dim/2]   (use the stored values: fp16 precision)
 *   layers.{i}.self_attn_layer_norm.{weight,bias}
 *   layers.{i}.fc1.{weight,bias}  [F, E], [F]
 *   layers.{i}.fc2.{weight,bias}  [E, F], [E]
 *   layers.{i}.final_layer_norm.{weight,bias}
 *   emb_layer_norm_after.{weight,bias}
 * (lm_head / contact_head tensors may be present; the embedder ignores them.)
 */
export interface Esm2Config {
  numLayers: number;
  embedDim: number;
  numHeads: number;
  ffnDim: number;
  vocabSize: number;
  /** fair-esm token dropout: embeddings scaled by 0.88 / (1 - mask ratio) at inference. */
  tokenDropout: boolean;
  layerNormEps: number;
  /** Alphabet indices the graph uses (fair-esm ESM-1b alphabet: pad 1, mask 32); the tokenizer adds cls and eos. */
  padIdx: number;
  maskIdx: number;
}

/**
 * DNABERT-S (DNABERT-2 / MosaicBERT `bert_layers.BertModel`). Canonical names
 * are BertModel's own, without any `bert.` / `dnabert2.` prefix:
 *   embeddings.word_embeddings.weight [V, H]
 *   embeddings.token_type_embeddings.weight [T, H]
 *   embeddings.LayerNorm.{weight,bias}
 *   encoder.layer.{i}.attention.self.Wqkv.{weight,bias}   [3H, H], [3H]
 *   encoder.layer.{i}.attention.output.dense.{weight,bias}
 *   encoder.layer.{i}.attention.output.LayerNorm.{weight,bias}
 *   encoder.layer.{i}.mlp.gated_layers.weight              [2I, H] (no bias)
 *   encoder.layer.{i}.mlp.wo.{weight,bias}                 [H, I], [H]
 *   encoder.layer.{i}.mlp.layernorm.{weight,bias}
 * (pooler.dense.* may be present; unused.)
 */
export interface DnabertConfig {
  numLayers: number;
  hiddenSize: number;
  numHeads: number;
  intermediateSize: number;
  vocabSize: number;
  typeVocabSize: number;
  layerNormEps: number;
}

/**
 * VirNucPro MLPClassifier: Linear -> BatchNorm1d (eval) -> ReLU -> (Dropout) -> Linear -> softmax.
 *   hidden_layer.{weight,bias}  [Hd, In], [Hd]
 *   bn1.{weight,bias,running_mean,running_var}  [Hd]
 *   output_layer.{weight,bias}  [C, Hd], [C]
 */
export interface ClassifierConfig {
  inputDim: number;
  hiddenDim: number;
  numClasses: number;
  bnEps: number;
}

export type ModelKind = 'esm2' | 'dnabert-s' | 'classifier';

/** A model read from the user's files: its config, canonical-named weights, and where it came from. */
export interface LoadedModel<C> {
  kind: ModelKind;
  /** The source layout, e.g. 'fair-esm checkpoint', 'hf directory', 'whole-module pickle'. */
  format: string;
  config: C;
  weights: TensorMap;
  /** Files the model was read from (for checksums in manifests and run.json). */
  files: string[];
}
