/**
 * Model detection: given a path, say which kind of model it is (fair-esm
 * checkpoint, Hugging Face ESM-2 directory, Hugging Face DNABERT-S directory,
 * VirNucPro classifier, prepared bundle), load and validate it, and describe
 * it (config and every tensor's name, dtype and shape). Errors say what is
 * missing or inconsistent; nothing reads tensor data, only headers.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InputError } from '../util/errors.js';
import { readSafetensors } from '../formats/safetensors.js';
import { readTorchFile } from '../formats/pytorch/checkpoint.js';
import { PyDict, describe } from '../formats/pytorch/pickle.js';
import { isModuleObject } from '../formats/pytorch/module.js';
import type { DType, TensorMap } from '../formats/tensor.js';
import { isBundle, openBundle } from './bundle.js';
import type { ClassifierConfig, DnabertConfig, Esm2Config, LoadedModel, ModelKind } from './config.js';
import { loadClassifier, loadDnabert, loadEsm2, loadHfEsm, stateDictOf } from './load.js';
import { jsonSyntaxProblem } from '../util/json.js';

export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
}

export type DetectedModel =
  | {
      path: string;
      kind: ModelKind;
      /** Source layout, e.g. 'fair-esm checkpoint', 'hf directory', 'whole-module pickle (__main__.MLPClassifier)'. */
      format: string;
      config: Esm2Config | DnabertConfig | ClassifierConfig;
      files: string[];
      /** Canonical names (config.ts), in file order. */
      tensors: TensorInfo[];
    }
  | {
      path: string;
      kind: 'bundle';
      format: 'virnucpro bundle';
      /** The configs of the models the bundle holds, by kind. */
      config: Partial<Record<ModelKind, unknown>>;
      files: string[];
      tensors: TensorInfo[];
    };

function describeTensors(weights: TensorMap): TensorInfo[] {
  return [...weights].map(([name, t]) => ({ name, dtype: t.dtype, shape: [...t.shape] }));
}

function fromLoaded(path: string, m: LoadedModel<Esm2Config | DnabertConfig | ClassifierConfig>): DetectedModel {
  return { path, kind: m.kind, format: m.format, config: m.config, files: m.files, tensors: describeTensors(m.weights) };
}

async function detectDirectory(dir: string): Promise<DetectedModel> {
  if (await isBundle(dir)) {
    const b = await openBundle(dir);
    const config: Partial<Record<ModelKind, unknown>> = {};
    for (const [kind, entry] of Object.entries(b.manifest.models)) if (entry) config[kind as ModelKind] = entry.config;
    return { path: dir, kind: 'bundle', format: 'virnucpro bundle', config, files: Object.keys(b.manifest.files).map((f) => b.path(f)), tensors: [] };
  }
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) {
    throw new InputError(`${dir}: not a model directory (no config.json and no manifest.json)`, {
      hint: 'Pass a Hugging Face model directory (config.json + weights), a fair-esm .pt file, a classifier .pth, or a prepared bundle.',
    });
  }
  let cfg: Record<string, unknown>;
  try {
    cfg = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new InputError(`${configPath}: not valid JSON (${jsonSyntaxProblem(e)})`);
  }
  const archs = Array.isArray(cfg.architectures) ? cfg.architectures.map(String) : [];
  if (cfg.model_type === 'esm' || archs.some((a) => a.startsWith('Esm'))) return fromLoaded(dir, await loadEsm2(dir));
  const autoMap = JSON.stringify(cfg.auto_map ?? '');
  if ('alibi_starting_size' in cfg || autoMap.includes('bert_layers') || (cfg.model_type === 'bert' && existsSync(join(dir, 'tokenizer.json')))) {
    return fromLoaded(dir, await loadDnabert(dir));
  }
  throw new InputError(`${configPath}: model_type '${String(cfg.model_type)}' (${archs.join(', ') || 'no architectures'}) is neither ESM-2 nor DNABERT-S`);
}

/** Names that tell a bare weights file's model apart. */
function guessFromNames(names: string[]): 'classifier' | 'esm2-hf' | 'dnabert' | 'esm2-fair' | undefined {
  if (names.includes('hidden_layer.weight') && names.includes('output_layer.weight')) return 'classifier';
  if (names.some((n) => n.endsWith('attention.self.Wqkv.weight'))) return 'dnabert';
  if (names.some((n) => n.endsWith('attention.self.rotary_embeddings.inv_freq') || n.endsWith('embeddings.word_embeddings.weight'))) return 'esm2-hf';
  if (names.some((n) => n.includes('self_attn.rot_emb.inv_freq'))) return 'esm2-fair';
  return undefined;
}

/**
 * A Hugging Face weights file given on its own (model.safetensors,
 * pytorch_model.bin): described with the config.json beside it, which says
 * what the tensors alone cannot (layer norm eps, token ids, ...).
 */
async function detectHfWeightsFile(path: string, kind: 'esm2' | 'dnabert-s'): Promise<DetectedModel> {
  const dir = dirname(path);
  if (!existsSync(join(dir, 'config.json'))) {
    const model = kind === 'esm2' ? 'Hugging Face ESM-2' : 'DNABERT-S';
    throw new InputError(`${path}: these are ${model} weights without their config.json`, {
      hint: "Put the model's config.json next to this file, or pass the Hugging Face model directory that holds both.",
    });
  }
  return fromLoaded(path, kind === 'esm2' ? await loadHfEsm(dir, [path]) : await loadDnabert(dir, [path]));
}

/** A weights file: a fair-esm checkpoint or whole-module classifier by its structure, anything else by its tensor names. */
async function detectFile(path: string): Promise<DetectedModel> {
  const safetensors = path.endsWith('.safetensors');
  let names: string[];
  if (safetensors) {
    names = [...readSafetensors(path).tensors.keys()];
  } else {
    const ckpt = await readTorchFile(path);
    const root = ckpt.root;
    if (root instanceof PyDict && root.get('model') instanceof PyDict && (root.has('cfg') || root.has('args'))) {
      return fromLoaded(path, await loadEsm2(path));
    }
    if (isModuleObject(root)) return fromLoaded(path, await loadClassifier(path));
    try {
      names = [...stateDictOf(ckpt).keys()];
    } catch {
      throw new InputError(`${path}: a PyTorch file holding ${describe(root)}, not model weights (is it a VirNucPro output file?)`);
    }
  }
  switch (guessFromNames(names)) {
    case 'classifier':
      return fromLoaded(path, await loadClassifier(path));
    case 'dnabert':
      return detectHfWeightsFile(path, 'dnabert-s');
    case 'esm2-hf':
      return detectHfWeightsFile(path, 'esm2');
    case 'esm2-fair':
      throw new InputError(`${path}: fair-esm state_dict without its 'cfg' (fair-esm checkpoints are {"model": ..., "cfg": ...})`);
    default:
      throw new InputError(`${path}: ${safetensors ? 'safetensors' : 'PyTorch'} file with ${names.length} tensors that match no supported model`);
  }
}

/** Detects, loads and validates the model at `path` (file or directory). */
export async function detectModel(path: string): Promise<DetectedModel> {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    throw new InputError(`${path}: cannot open: ${(e as Error).message}`);
  }
  return isDir ? detectDirectory(path) : detectFile(path);
}
