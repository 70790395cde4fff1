/**
 * Model configurations. The canonical weight names every loader produces and
 * every graph builder consumes, with their shapes, are each model's schema
 * (schema.ts). Loaders (models/load.ts) translate each source layout (fair-esm
 * checkpoint, Hugging Face directory, whole-module pickle, state_dict) into
 * those names, so the graph builders see one layout.
 */
import type { TensorMap } from '../formats/tensor.js';

/** ESM-2 (fair-esm `ESM2`); tensors: esm2Schema. */
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

/** DNABERT-S (DNABERT-2 / MosaicBERT `bert_layers.BertModel`); tensors: dnabertSchema. */
export interface DnabertConfig {
  numLayers: number;
  hiddenSize: number;
  numHeads: number;
  intermediateSize: number;
  vocabSize: number;
  typeVocabSize: number;
  layerNormEps: number;
}

/** VirNucPro MLPClassifier: Linear -> BatchNorm1d (eval) -> ReLU -> (Dropout) -> Linear -> softmax; tensors: classifierSchema. */
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
