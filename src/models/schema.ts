/**
 * One schema per model: every tensor's canonical name, shape and role, written
 * once and used by the loader (models/load.ts checks a user's file against it,
 * as fair-esm's `load_state_dict` checks a checkpoint against the modules it
 * defines), the demo generator (demo/weights.ts makes one tensor per entry) and
 * the classifier's whole-module pickle (models/classifier-module.ts). The graph
 * builders read the same canonical names.
 *
 * Canonical names are the reference modules' own state_dict names:
 *   ESM-2       fair-esm `ESM2` (the checkpoint's `encoder.sentence_encoder.` / `encoder.` prefix stripped)
 *   DNABERT-S   DNABERT-2's `bert_layers.BertModel` (any `bert.`-style prefix stripped)
 *   classifier  VirNucPro's `MLPClassifier`
 * Entries are in each module's definition order, which is its state_dict order.
 *
 * The names of the other layouts users have (fair-esm file names, Hugging Face
 * `EsmModel`) are translated here too, from one table each, in both directions.
 */
import type { ClassifierConfig, DnabertConfig, Esm2Config } from './config.js';

/** What a tensor is, which says how a generator initialises it. */
export type TensorRole =
  | 'embedding' // [rows, dim] lookup table
  | 'linear' // [out, in] weight matrix
  | 'bias' // additive bias of a linear layer
  | 'norm-weight' // LayerNorm / BatchNorm scale
  | 'norm-bias' // LayerNorm / BatchNorm shift
  | 'rotary-inv-freq' // fair-esm's rotary buffer, 1 / 10000^(2i/head_dim)
  | 'running-mean' // BatchNorm statistics
  | 'running-var'
  | 'step-count' // BatchNorm num_batches_tracked (int64 scalar)
  | 'tied'; // the same storage as another entry (`tiedTo`)

export interface TensorSpec {
  name: string;
  shape: readonly number[];
  role: TensorRole;
  /** Present in the reference's files but not read by VirNucPro (heads it does not use): not checked on load. */
  unused?: boolean;
  /** For 'embedding': the padding row, which nn.Embedding(padding_idx=…) initialises to zero. */
  paddingRow?: number;
  /** For 'tied': the entry whose storage this one shares. */
  tiedTo?: string;
}

export type ModelSchema = readonly TensorSpec[];

/** A Linear layer's weight and bias. */
function linear(prefix: string, outF: number, inF: number): TensorSpec[] {
  return [
    { name: `${prefix}.weight`, shape: [outF, inF], role: 'linear' },
    { name: `${prefix}.bias`, shape: [outF], role: 'bias' },
  ];
}

/** A LayerNorm's (or BatchNorm's affine) weight and bias. */
function norm(prefix: string, dim: number): TensorSpec[] {
  return [
    { name: `${prefix}.weight`, shape: [dim], role: 'norm-weight' },
    { name: `${prefix}.bias`, shape: [dim], role: 'norm-bias' },
  ];
}

function markUnused(specs: TensorSpec[]): TensorSpec[] {
  return specs.map((s) => ({ ...s, unused: true }));
}

// ---------------------------------------------------------------------------
// ESM-2 (fair-esm esm/model/esm2.py, esm/modules.py, esm/multihead_attention.py)

export type Esm2Shape = Pick<Esm2Config, 'numLayers' | 'embedDim' | 'numHeads' | 'ffnDim' | 'vocabSize' | 'padIdx'>;

/**
 * ESM2: embed_tokens; layers (TransformerLayer: self_attn = MultiheadAttention
 * with k, v, q, out projections and the rotary buffer, self_attn_layer_norm,
 * fc1, fc2, final_layer_norm); emb_layer_norm_after; the masked-LM head
 * (RobertaLMHead, its weight tied to embed_tokens), which VirNucPro does not use.
 */
export function esm2Schema(c: Esm2Shape): ModelSchema {
  const E = c.embedDim;
  const s: TensorSpec[] = [{ name: 'embed_tokens.weight', shape: [c.vocabSize, E], role: 'embedding', paddingRow: c.padIdx }];
  for (let i = 0; i < c.numLayers; i++) {
    const p = `layers.${i}.`;
    for (const proj of ['k_proj', 'v_proj', 'q_proj', 'out_proj']) s.push(...linear(`${p}self_attn.${proj}`, E, E));
    s.push({ name: `${p}self_attn.rot_emb.inv_freq`, shape: [E / c.numHeads / 2], role: 'rotary-inv-freq' });
    s.push(...norm(`${p}self_attn_layer_norm`, E));
    s.push(...linear(`${p}fc1`, c.ffnDim, E), ...linear(`${p}fc2`, E, c.ffnDim));
    s.push(...norm(`${p}final_layer_norm`, E));
  }
  s.push(...norm('emb_layer_norm_after', E));
  // The LM head in the order the demo files have always listed it (the loader does not depend on order).
  s.push(
    ...markUnused([
      { name: 'lm_head.bias', shape: [c.vocabSize], role: 'bias' },
      ...linear('lm_head.dense', E, E),
      ...norm('lm_head.layer_norm', E),
      { name: 'lm_head.weight', shape: [c.vocabSize, E], role: 'tied', tiedTo: 'embed_tokens.weight' },
    ]),
  );
  return s;
}

/** The separate file fair-esm's loader reads beside a checkpoint: `contact_head.regression`, one logistic unit over all attention maps. */
export function esm2ContactRegressionSchema(c: Pick<Esm2Config, 'numLayers' | 'numHeads'>): ModelSchema {
  return markUnused(linear('contact_head.regression', 1, c.numLayers * c.numHeads));
}

/** fair-esm checkpoint key -> canonical name: `re.sub("^encoder.sentence_encoder.|encoder.", "", key)` for real keys. */
export function fairEsmToCanonical(key: string): string {
  if (key.startsWith('encoder.sentence_encoder.')) return key.slice('encoder.sentence_encoder.'.length);
  if (key.startsWith('encoder.')) return key.slice('encoder.'.length);
  return key;
}

/** Canonical name -> its key in a fair-esm checkpoint (the LM head sits beside the sentence encoder). */
export function canonicalToFairEsm(name: string): string {
  return name.startsWith('lm_head.') ? `encoder.${name}` : `encoder.sentence_encoder.${name}`;
}

/** Per layer: fair-esm module name <-> Hugging Face EsmModel module name. */
const HF_ESM_LAYER_MODULES: ReadonlyArray<readonly [fairEsm: string, hf: string]> = [
  ['self_attn.q_proj', 'attention.self.query'],
  ['self_attn.k_proj', 'attention.self.key'],
  ['self_attn.v_proj', 'attention.self.value'],
  ['self_attn.out_proj', 'attention.output.dense'],
  ['self_attn.rot_emb', 'attention.self.rotary_embeddings'],
  ['self_attn_layer_norm', 'attention.LayerNorm'],
  ['fc1', 'intermediate.dense'],
  ['fc2', 'output.dense'],
  ['final_layer_norm', 'LayerNorm'],
];
const HF_TO_FAIR = new Map(HF_ESM_LAYER_MODULES.map(([f, h]) => [h, f]));
const FAIR_TO_HF = new Map(HF_ESM_LAYER_MODULES);

/** Hugging Face EsmModel name (without `esm.`) -> canonical name; undefined for what ESM-2 does not hold. */
export function hfEsmToCanonical(key: string): string | undefined {
  const layer = /^encoder\.layer\.(\d+)\.(.+)\.(weight|bias|inv_freq)$/.exec(key);
  if (layer) {
    const [, i, mod, leaf] = layer;
    const fair = HF_TO_FAIR.get(mod);
    return fair ? `layers.${i}.${fair}.${leaf}` : undefined;
  }
  if (key === 'embeddings.word_embeddings.weight') return 'embed_tokens.weight';
  if (key.startsWith('encoder.emb_layer_norm_after.')) return key.slice('encoder.'.length);
  if (key.startsWith('contact_head.')) return key;
  return undefined;
}

/** Canonical name -> Hugging Face EsmModel name (without `esm.`), for naming a missing tensor as the file would. */
export function canonicalToHfEsm(name: string): string {
  const layer = /^layers\.(\d+)\.(.+)\.(weight|bias|inv_freq)$/.exec(name);
  if (layer) {
    const [, i, mod, leaf] = layer;
    return `encoder.layer.${i}.${FAIR_TO_HF.get(mod) ?? mod}.${leaf}`;
  }
  if (name === 'embed_tokens.weight') return 'embeddings.word_embeddings.weight';
  if (name.startsWith('emb_layer_norm_after.')) return `encoder.${name}`;
  return name;
}

// ---------------------------------------------------------------------------
// DNABERT-S (DNABERT-2 / MosaicBERT bert_layers.py)

export type DnabertShape = Pick<DnabertConfig, 'numLayers' | 'hiddenSize' | 'intermediateSize' | 'vocabSize' | 'typeVocabSize'>;

/**
 * BertModel: embeddings (word, token type, LayerNorm; ALiBi instead of position
 * embeddings); encoder layers (BertUnpadAttention: fused Wqkv, output dense and
 * LayerNorm; BertGatedLinearUnitMLP: gated_layers without bias, wo, layernorm);
 * the pooler, which VirNucPro does not use (it averages the last hidden state).
 */
export function dnabertSchema(c: DnabertShape): ModelSchema {
  const H = c.hiddenSize;
  const I = c.intermediateSize;
  const s: TensorSpec[] = [
    { name: 'embeddings.word_embeddings.weight', shape: [c.vocabSize, H], role: 'embedding' },
    { name: 'embeddings.token_type_embeddings.weight', shape: [c.typeVocabSize, H], role: 'embedding' },
    ...norm('embeddings.LayerNorm', H),
  ];
  for (let i = 0; i < c.numLayers; i++) {
    const p = `encoder.layer.${i}.`;
    s.push(
      ...linear(`${p}attention.self.Wqkv`, 3 * H, H),
      ...linear(`${p}attention.output.dense`, H, H),
      ...norm(`${p}attention.output.LayerNorm`, H),
      { name: `${p}mlp.gated_layers.weight`, shape: [2 * I, H], role: 'linear' },
      ...linear(`${p}mlp.wo`, H, I),
      ...norm(`${p}mlp.layernorm`, H),
    );
  }
  s.push(...markUnused(linear('pooler.dense', H, H)));
  return s;
}

// ---------------------------------------------------------------------------
// VirNucPro MLPClassifier (Linear -> BatchNorm1d -> ReLU -> Dropout -> Linear)

export type ClassifierShape = Pick<ClassifierConfig, 'inputDim' | 'hiddenDim' | 'numClasses'>;

export function classifierSchema(c: ClassifierShape): ModelSchema {
  const H = c.hiddenDim;
  return [
    ...linear('hidden_layer', H, c.inputDim),
    ...norm('bn1', H),
    { name: 'bn1.running_mean', shape: [H], role: 'running-mean' },
    { name: 'bn1.running_var', shape: [H], role: 'running-var' },
    { name: 'bn1.num_batches_tracked', shape: [], role: 'step-count', unused: true },
    ...linear('output_layer', c.numClasses, H),
  ];
}
