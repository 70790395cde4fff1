/**
 * Loaders: the user's weight files -> LoadedModel with canonical weight names
 * (documented in config.ts), a config, and validation.
 *
 * Sources:
 *   ESM-2       fair-esm `.pt` ({"model": state_dict, "cfg": {"model": Namespace}}), or a Hugging Face
 *               directory (config.json + model.safetensors / pytorch_model.bin, `esm.` prefix or none)
 *   DNABERT-S   Hugging Face directory (config.json + model.safetensors / pytorch_model.bin)
 *   classifier  whole-module pickle (`torch.save(model)`) or a state_dict `.pth` / `.safetensors`
 *
 * Tensors stay lazy: loading validates names, shapes and dtypes from the
 * headers only, so it is fast and small even for ESM-2 3B.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../util/errors.js';
import { readJsonObject } from '../util/json.js';
import { readSafetensors } from '../formats/safetensors.js';
import { readTorchFile, type TorchCheckpoint } from '../formats/pytorch/checkpoint.js';
import { PyDict, PyObject, describe } from '../formats/pytorch/pickle.js';
import { isModuleObject, moduleStateDict, submodule } from '../formats/pytorch/module.js';
import { memoryTensor, type DType, type LazyTensor, type TensorMap } from '../formats/tensor.js';
import type { ClassifierConfig, DnabertConfig, Esm2Config, LoadedModel } from './config.js';
import { ESM_MASK_IDX, ESM_PAD_IDX } from './tokenizers/esm.js';
import { canonicalToFairEsm, canonicalToHfEsm, classifierSchema, dnabertSchema, esm2Schema, fairEsmToCanonical, hfEsmToCanonical, type ModelSchema } from './schema.js';

const FLOAT_DTYPES: ReadonlySet<DType> = new Set(['float16', 'bfloat16', 'float32', 'float64']);

/** Canonical name -> the name it has (or would have) in the file, for error messages. */
type SourceNames = Map<string, string> & { guess?: (canonical: string) => string };

function sourceNames(guess?: (canonical: string) => string): SourceNames {
  const m: SourceNames = new Map();
  m.guess = guess;
  return m;
}

function fileKey(sources: SourceNames, name: string): string {
  return sources.get(name) ?? sources.guess?.(name) ?? name;
}

/**
 * A file's tensors under their canonical names (those `toCanonical` maps to
 * undefined are dropped), remembering each one's key in the file; `guess`
 * names a missing tensor as the file would have it.
 */
function canonicalWeights(raw: TensorMap, toCanonical: (key: string) => string | undefined, guess: (canonical: string) => string): { weights: TensorMap; sources: SourceNames } {
  const weights: TensorMap = new Map();
  const sources = sourceNames(guess);
  for (const [k, t] of raw) {
    const name = toCanonical(k);
    if (name === undefined) continue;
    weights.set(name, t);
    sources.set(name, k);
  }
  return { weights, sources };
}

// ---------------------------------------------------------------------------
// Reading tensors from one file or a Hugging Face directory

function isTensor(v: unknown): v is LazyTensor {
  return v !== null && typeof v === 'object' && 'dtype' in v && 'shape' in v && typeof (v as LazyTensor).bytes === 'function';
}

/** The tensors of a state_dict-like PyDict (non-tensor entries are ignored). */
function tensorsOf(dict: Map<unknown, unknown>): TensorMap {
  const out: TensorMap = new Map();
  for (const [k, v] of dict) if (typeof k === 'string' && isTensor(v)) out.set(k, v);
  return out;
}

/**
 * The state_dict a checkpoint holds: the root dict itself, a whole module's
 * parameters and buffers, or the dict under a usual wrapper key.
 */
export function stateDictOf(ckpt: TorchCheckpoint): TensorMap {
  const root = ckpt.root;
  if (isModuleObject(root)) return moduleStateDict(root);
  if (root instanceof PyDict) {
    const direct = tensorsOf(root);
    if (direct.size > 0) return direct;
    for (const key of ['state_dict', 'model_state_dict', 'model', 'module']) {
      const inner = root.get(key);
      if (inner instanceof PyDict) {
        const t = tensorsOf(inner);
        if (t.size > 0) return t;
      }
      if (isModuleObject(inner)) return moduleStateDict(inner);
    }
  }
  throw new InputError(`${ckpt.path}: no tensors found (the pickle holds ${describe(root)}, not a state_dict or a module)`);
}

/** Reads every tensor of a weights file (.safetensors, or a torch zip of any extension). */
export async function readWeightsFile(path: string): Promise<TensorMap> {
  if (path.endsWith('.safetensors')) return readSafetensors(path).tensors;
  return stateDictOf(await readTorchFile(path));
}


/** The weight files of a Hugging Face directory, preferring safetensors; sharded checkpoints included. */
export async function hfWeightFiles(dir: string): Promise<string[]> {
  for (const [single, index] of [
    ['model.safetensors', 'model.safetensors.index.json'],
    ['pytorch_model.bin', 'pytorch_model.bin.index.json'],
  ]) {
    if (existsSync(join(dir, single))) return [join(dir, single)];
    const indexPath = join(dir, index);
    if (existsSync(indexPath)) {
      const idx = await readJsonObject(indexPath, 'shard index');
      const map = idx.weight_map as Record<string, string> | undefined;
      if (!map || typeof map !== 'object') throw new InputError(`${indexPath}: shard index has no weight_map`);
      return [...new Set(Object.values(map))].map((f) => join(dir, f));
    }
  }
  throw new InputError(`${dir}: no weights found (expected model.safetensors or pytorch_model.bin)`);
}

async function readHfWeights(files: string[]): Promise<TensorMap> {
  const all: TensorMap = new Map();
  for (const f of files) for (const [k, t] of await readWeightsFile(f)) all.set(k, t);
  return all;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch (e) {
    throw new InputError(`${path}: cannot open: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------
// Validation

/**
 * Checks presence, shape and dtype of every tensor the schema says VirNucPro
 * reads (heads it does not use are not checked); errors name the file and the key.
 */
function validate(file: string, weights: TensorMap, sources: SourceNames, schema: ModelSchema, model: string): void {
  for (const e of schema) {
    if (e.unused) continue;
    const t = weights.get(e.name);
    const key = fileKey(sources, e.name);
    const label = key === e.name ? `'${key}'` : `'${key}' (${e.name})`;
    if (!t) {
      throw new InputError(`${file}: ${model} weights are missing tensor ${label}, expected shape [${e.shape.join(', ')}]`);
    }
    if (t.shape.length !== e.shape.length || t.shape.some((d, i) => d !== e.shape[i])) {
      throw new InputError(`${file}: ${model} tensor ${label} has shape [${t.shape.join(', ')}], expected [${e.shape.join(', ')}]`);
    }
    if (!FLOAT_DTYPES.has(t.dtype)) {
      throw new InputError(`${file}: ${model} tensor ${label} has dtype ${t.dtype}, expected a floating-point type`);
    }
  }
}

/** Number of layers present, from names like `<prefix><i>.` (checks there are no gaps). */
function countLayers(weights: TensorMap, prefix: string): number {
  const seen = new Set<number>();
  for (const k of weights.keys()) {
    if (!k.startsWith(prefix)) continue;
    const m = /^(\d+)\./.exec(k.slice(prefix.length));
    if (m) seen.add(Number(m[1]));
  }
  return seen.size === 0 ? 0 : Math.max(...seen) + 1;
}

function shapeOf(weights: TensorMap, name: string, file: string, model: string, sources: SourceNames): readonly number[] {
  const t = weights.get(name);
  if (!t) throw new InputError(`${file}: ${model} weights are missing tensor '${fileKey(sources, name)}'`);
  return t.shape;
}

/** The sizes every BERT-style Hugging Face config.json gives (ESM-2's and DNABERT-S's), each a positive integer. */
function hfSizes(json: Record<string, unknown>, configPath: string): { numLayers: number; hidden: number; numHeads: number; intermediate: number; vocabSize: number } {
  return {
    numLayers: positiveInt(json.num_hidden_layers, 'num_hidden_layers', configPath),
    hidden: positiveInt(json.hidden_size, 'hidden_size', configPath),
    numHeads: positiveInt(json.num_attention_heads, 'num_attention_heads', configPath),
    intermediate: positiveInt(json.intermediate_size, 'intermediate_size', configPath),
    vocabSize: positiveInt(json.vocab_size, 'vocab_size', configPath),
  };
}

function positiveInt(v: unknown, field: string, file: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new InputError(`${file}: config field '${field}' is ${JSON.stringify(v)}, expected a positive integer`);
  }
  return v;
}

// ---------------------------------------------------------------------------
// ESM-2

/** fair-esm rotary inv_freq as stored in the released (fp16) checkpoints: 1/10000^(2i/d), rounded to fp16. */
function fp16RoundedInvFreq(headDim: number): LazyTensor {
  const n = headDim / 2;
  const f = new Float32Array(n);
  const h = new Float32Array(1);
  for (let i = 0; i < n; i++) {
    h[0] = 1 / 10000 ** ((2 * i) / headDim);
    f[i] = roundToHalf(h[0]);
  }
  return memoryTensor('float32', [n], f);
}

function roundToHalf(x: number): number {
  if (x === 0) return 0;
  const e = Math.floor(Math.log2(Math.abs(x)));
  const ulp = 2 ** (Math.max(e, -14) - 10);
  return Math.round(x / ulp) * ulp;
}

function esm2Defaults(): Pick<Esm2Config, 'layerNormEps' | 'padIdx' | 'maskIdx'> {
  return { layerNormEps: 1e-5, padIdx: ESM_PAD_IDX, maskIdx: ESM_MASK_IDX };
}

function checkEsm2Consistency(file: string, c: Esm2Config, weights: TensorMap): void {
  if (c.embedDim % c.numHeads !== 0 || (c.embedDim / c.numHeads) % 2 !== 0) {
    throw new InputError(`${file}: ESM-2 embed dim ${c.embedDim} is not divisible into ${c.numHeads} heads of even size`);
  }
  const present = countLayers(weights, 'layers.');
  if (present !== c.numLayers) {
    throw new InputError(`${file}: ESM-2 config says ${c.numLayers} layers but the weights hold ${present}`);
  }
}

async function loadFairEsm(path: string): Promise<LoadedModel<Esm2Config>> {
  const ckpt = await readTorchFile(path);
  const root = ckpt.root;
  if (!(root instanceof PyDict) || !(root.get('model') instanceof PyDict)) {
    throw new InputError(`${path}: not a fair-esm checkpoint (expected a dict with a 'model' state_dict, got ${describe(root)})`);
  }
  if (!root.has('cfg') && root.has('args')) {
    throw new InputError(`${path}: this is an ESM-1/ESM-1b checkpoint ('args' instead of 'cfg'); only ESM-2 is supported`);
  }
  const cfg = root.get('cfg');
  const ns = cfg instanceof PyDict ? cfg.get('model') : undefined;
  if (!(ns instanceof PyObject)) throw new InputError(`${path}: fair-esm checkpoint has no cfg['model'] Namespace`);
  const a = ns.attrs;
  const { weights, sources } = canonicalWeights(tensorsOf(root.get('model') as PyDict), fairEsmToCanonical, canonicalToFairEsm);
  const embed = shapeOf(weights, 'embed_tokens.weight', path, 'ESM-2', sources);
  const embedDim = positiveInt(a.encoder_embed_dim, "cfg['model'].encoder_embed_dim", path);
  const fc1 = weights.get('layers.0.fc1.weight');
  const config: Esm2Config = {
    numLayers: positiveInt(a.encoder_layers, "cfg['model'].encoder_layers", path),
    embedDim,
    numHeads: positiveInt(a.encoder_attention_heads, "cfg['model'].encoder_attention_heads", path),
    ffnDim: a.encoder_ffn_embed_dim !== undefined ? positiveInt(a.encoder_ffn_embed_dim, "cfg['model'].encoder_ffn_embed_dim", path) : fc1 ? fc1.shape[0] : 4 * embedDim,
    vocabSize: embed[0],
    tokenDropout: a.token_dropout === undefined ? true : Boolean(a.token_dropout),
    ...esm2Defaults(),
  };
  checkEsm2Consistency(path, config, weights);
  validate(path, weights, sources, esm2Schema(config), 'ESM-2');
  return { kind: 'esm2', format: 'fair-esm checkpoint', config, weights, files: [path] };
}

/**
 * ESM-2 from a Hugging Face directory. `weightFiles` replaces the weights the
 * directory would be read from (model.safetensors first), to describe one
 * weights file with the config.json beside it.
 */
export async function loadHfEsm(dir: string, weightFiles?: readonly string[]): Promise<LoadedModel<Esm2Config>> {
  const configPath = join(dir, 'config.json');
  const json = await readJsonObject(configPath, 'config.json');
  if (json.model_type !== undefined && json.model_type !== 'esm') {
    throw new InputError(`${configPath}: model_type is '${String(json.model_type)}', not an ESM-2 model ('esm')`);
  }
  if (json.position_embedding_type !== undefined && json.position_embedding_type !== 'rotary') {
    throw new InputError(`${configPath}: position_embedding_type '${String(json.position_embedding_type)}' is ESM-1, only ESM-2 (rotary) is supported`);
  }
  if (json.emb_layer_norm_before === true) throw new InputError(`${configPath}: emb_layer_norm_before=true is ESM-1b, not ESM-2`);
  const files = weightFiles ? [...weightFiles] : await hfWeightFiles(dir);
  const raw = await readHfWeights(files);
  const prefix = raw.has('esm.embeddings.word_embeddings.weight') ? 'esm.' : '';
  const { weights, sources } = canonicalWeights(
    raw,
    (k) => (k.startsWith(prefix) ? hfEsmToCanonical(k.slice(prefix.length)) : undefined) ?? (k === 'lm_head.decoder.weight' ? 'lm_head.weight' : k.startsWith('lm_head.') ? k : undefined),
    (n) => `${prefix}${canonicalToHfEsm(n)}`,
  );
  const sizes = hfSizes(json, configPath);
  const config: Esm2Config = {
    numLayers: sizes.numLayers,
    embedDim: sizes.hidden,
    numHeads: sizes.numHeads,
    ffnDim: sizes.intermediate,
    vocabSize: sizes.vocabSize,
    tokenDropout: json.token_dropout === undefined ? true : Boolean(json.token_dropout),
    ...esm2Defaults(),
    layerNormEps: typeof json.layer_norm_eps === 'number' ? json.layer_norm_eps : 1e-5,
    padIdx: typeof json.pad_token_id === 'number' ? json.pad_token_id : ESM_PAD_IDX,
    maskIdx: typeof json.mask_token_id === 'number' ? json.mask_token_id : ESM_MASK_IDX,
  };
  const file = files.length === 1 ? files[0] : dir;
  checkEsm2Consistency(file, config, weights);
  // transformers versions that do not save the rotary buffer: use fair-esm's value at the released fp16 precision.
  const hd = config.embedDim / config.numHeads;
  for (let i = 0; i < config.numLayers; i++) {
    const name = `layers.${i}.self_attn.rot_emb.inv_freq`;
    if (!weights.has(name)) weights.set(name, fp16RoundedInvFreq(hd));
  }
  validate(file, weights, sources, esm2Schema(config), 'ESM-2');
  return { kind: 'esm2', format: 'hf directory', config, weights, files: [configPath, ...files] };
}

/** ESM-2 from a fair-esm `.pt` checkpoint or a Hugging Face directory. */
export async function loadEsm2(path: string): Promise<LoadedModel<Esm2Config>> {
  return isDirectory(path) ? loadHfEsm(path) : loadFairEsm(path);
}

// ---------------------------------------------------------------------------
// DNABERT-S

/**
 * DNABERT-S from a Hugging Face directory; a leading `bert.` / `dnabert2.`-style
 * prefix is stripped. `weightFiles` as for loadHfEsm.
 */
export async function loadDnabert(dir: string, weightFiles?: readonly string[]): Promise<LoadedModel<DnabertConfig>> {
  if (!isDirectory(dir)) throw new InputError(`${dir}: DNABERT-S is read from a Hugging Face model directory, not a single file`);
  const configPath = join(dir, 'config.json');
  const json = await readJsonObject(configPath, 'config.json');
  const files = weightFiles ? [...weightFiles] : await hfWeightFiles(dir);
  const raw = await readHfWeights(files);
  const file = files.length === 1 ? files[0] : dir;
  const anchor = [...raw.keys()].find((k) => k.endsWith('embeddings.word_embeddings.weight'));
  if (anchor === undefined) throw new InputError(`${file}: DNABERT-S weights are missing tensor 'embeddings.word_embeddings.weight'`);
  const prefix = anchor.slice(0, anchor.length - 'embeddings.word_embeddings.weight'.length);
  const { weights, sources } = canonicalWeights(raw, (k) => (k.startsWith(prefix) ? k.slice(prefix.length) : undefined), (n) => `${prefix}${n}`);
  const sizes = hfSizes(json, configPath);
  const config: DnabertConfig = {
    numLayers: sizes.numLayers,
    hiddenSize: sizes.hidden,
    numHeads: sizes.numHeads,
    intermediateSize: sizes.intermediate,
    vocabSize: sizes.vocabSize,
    typeVocabSize: json.type_vocab_size === undefined ? 2 : positiveInt(json.type_vocab_size, 'type_vocab_size', configPath),
    layerNormEps: typeof json.layer_norm_eps === 'number' ? json.layer_norm_eps : 1e-12,
    // alibi_starting_size is not read: the graph builds the ALiBi bias for each batch's length.
  };
  if (config.hiddenSize % config.numHeads !== 0) {
    throw new InputError(`${configPath}: hidden_size ${config.hiddenSize} is not divisible by num_attention_heads ${config.numHeads}`);
  }
  if (weights.has('encoder.layer.0.attention.self.query.weight')) {
    throw new InputError(`${file}: these are classic BERT weights (separate query/key/value), not DNABERT-2/DNABERT-S (fused Wqkv)`);
  }
  const present = countLayers(weights, 'encoder.layer.');
  if (present !== config.numLayers) {
    throw new InputError(`${file}: config.json says ${config.numLayers} layers but the weights hold ${present}`);
  }
  validate(file, weights, sources, dnabertSchema(config), 'DNABERT-S');
  const tokenizer = join(dir, 'tokenizer.json');
  return { kind: 'dnabert-s', format: 'hf directory', config, weights, files: [configPath, ...files, ...(existsSync(tokenizer) ? [tokenizer] : [])] };
}

// ---------------------------------------------------------------------------
// VirNucPro classifier

/** The VirNucPro MLPClassifier from a whole-module pickle or a state_dict (.pth / .safetensors). */
export async function loadClassifier(path: string): Promise<LoadedModel<ClassifierConfig>> {
  let weights: TensorMap;
  let format: string;
  let bnEps = 1e-5;
  if (path.endsWith('.safetensors')) {
    weights = readSafetensors(path).tensors;
    format = 'safetensors state_dict';
  } else {
    const ckpt = await readTorchFile(path);
    weights = stateDictOf(ckpt);
    if (isModuleObject(ckpt.root)) {
      format = `whole-module pickle (${ckpt.root.className})`;
      const eps = submodule(ckpt.root, 'bn1')?.attrs.eps;
      if (typeof eps === 'number') bnEps = eps;
    } else {
      format = 'state_dict';
    }
  }
  const none = sourceNames();
  const hidden = shapeOf(weights, 'hidden_layer.weight', path, 'classifier', none);
  const out = shapeOf(weights, 'output_layer.weight', path, 'classifier', none);
  if (hidden.length !== 2 || out.length !== 2) {
    throw new InputError(`${path}: classifier tensors 'hidden_layer.weight' and 'output_layer.weight' must be matrices`);
  }
  const config: ClassifierConfig = { inputDim: hidden[1], hiddenDim: hidden[0], numClasses: out[0], bnEps };
  validate(path, weights, none, classifierSchema(config), 'classifier');
  return { kind: 'classifier', format, config, weights, files: [path] };
}
