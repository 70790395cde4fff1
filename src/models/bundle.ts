/**
 * Prepared model bundles: a directory holding the ONNX graphs this package
 * builds, their external-data weight files, and `manifest.json`:
 *
 *   manifest.json
 *   esm2.onnx        esm2.onnx.data
 *   dnabert-s.onnx   dnabert-s.onnx.data   dnabert-s.tokenizer.json
 *   classifier.onnx  classifier.onnx.data
 *
 * `virnucpro models prepare` writes all three; `embed` with raw weights
 * writes a one-model bundle into the graph cache with the same code.
 * A bundle is written under a temporary name and renamed when complete, so a
 * half-written bundle is never taken for a finished one.
 *
 * Opening a bundle checks the format version and the CONTENT of every file
 * against the manifest's sha256. Reading multi-GB weight files on every run is
 * avoided with `.verified.json` (util/hash-memo.ts): the stat identity (size,
 * mtime, ctime, inode, device) of each file at its last verification; a file
 * whose identity still matches is trusted, any other is hashed again, so a
 * corruption that keeps the size and mtime is still caught (its ctime moved).
 * The memo lives in the bundle directory, or in the cache directory when the
 * bundle's is read-only.
 */
import { access, copyFile, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { FileHashMemo } from '../util/hash-memo.js';
import { gitBlobSha1OfFile, sha256File } from '../util/hash.js';
import { InputError } from '../util/errors.js';
import { jsonSyntaxProblem } from '../util/json.js';
import { TOOL_VERSION } from '../util/version.js';
import type { GraphBuilder } from '../formats/onnx/graph.js';
import type { Precision } from '../formats/onnx/layers.js';
import { writeOnnxModel } from '../formats/onnx/writer.js';
import type { ClassifierConfig, DnabertConfig, Esm2Config, LoadedModel, ModelKind } from './config.js';
import { buildClassifierGraph } from './classifier.js';
import { buildDnabertGraph } from './dnabert.js';
import { buildEsm2Graph } from './esm2.js';
import { pathExists } from '../util/fs.js';
import { resolveCacheDir } from '../util/cache-dir.js';
import { loadDnaTokenizer } from './tokenizers/dnabert.js';

/**
 * Version of the graphs' contract (inputs, outputs, numerics). Bump it when a
 * builder changes what a graph computes: older bundles are then refused.
 */
export const BUNDLE_FORMAT_VERSION = 3;
// 2: fused attention/rotary kernels, packed projections split at build time, float32 residual
//    stream under --fp16 (fp32 results equal up to float rounding; graphs rebuilt for speed).
export const MANIFEST_NAME = 'manifest.json';
/** The bundle's memo of verified files (not part of the bundle: never listed in the manifest). */
export const VERIFIED_NAME = '.verified.json';

export interface FileRecord {
  bytes: number;
  sha256?: string;
  /** Classifier sources: the git blob id, by which VirNucPro's published classifiers are recognised. */
  gitSha1?: string;
}

export interface BundleModelEntry<C = unknown> {
  config: C;
  /** The source layout, e.g. 'fair-esm checkpoint'. */
  sourceFormat: string;
  /** Files the weights were read from (sha256 when the bundle was prepared with checksums). */
  sources: Array<{ path: string } & FileRecord>;
  graph: string;
  /** DNABERT-S only: the tokenizer.json copied into the bundle. */
  tokenizer?: string;
}

export interface BundleManifest {
  format: 'virnucpro-bundle';
  formatVersion: number;
  tool: { name: 'virnucpro'; version: string };
  createdAt: string;
  precision: Precision;
  models: {
    esm2?: BundleModelEntry<Esm2Config>;
    'dnabert-s'?: BundleModelEntry<DnabertConfig>;
    classifier?: BundleModelEntry<ClassifierConfig>;
  };
  /** Every file of the bundle except the manifest. */
  files: Record<string, FileRecord>;
}

export interface BundleInputs {
  esm2?: LoadedModel<Esm2Config>;
  dnabert?: { model: LoadedModel<DnabertConfig>; tokenizerPath: string };
  classifier?: LoadedModel<ClassifierConfig>;
}

export interface WriteBundleOptions {
  precision: Precision;
  /** sha256 of every source file in the manifest (and the classifier's git blob id). */
  sourceChecksums?: boolean;
  /** Where source checksums are remembered (the graph cache's memo), so they are not read again. */
  sourceMemo?: FileHashMemo;
  /** Replace an existing bundle at `outDir`. */
  overwrite?: boolean;
  log?: (line: string) => void;
}

/** Builds and writes the graphs for `inputs` as a bundle at `outDir` (atomically). */
export async function writeBundle(outDir: string, inputs: BundleInputs, options: WriteBundleOptions): Promise<BundleManifest> {
  const out = resolve(outDir);
  if (!options.overwrite && (await pathExists(out))) {
    throw new InputError(`${out} already exists`, { hint: 'choose another --out directory, or remove it first' });
  }
  await mkdir(dirname(out), { recursive: true });
  const tmp = join(dirname(out), `.${basename(out)}.${process.pid}.${Date.now()}.partial`);
  await mkdir(tmp, { recursive: true });
  const log = options.log ?? (() => undefined);
  try {
    const manifest: BundleManifest = {
      format: 'virnucpro-bundle',
      formatVersion: BUNDLE_FORMAT_VERSION,
      tool: { name: 'virnucpro', version: TOOL_VERSION },
      createdAt: new Date().toISOString(),
      precision: options.precision,
      models: {},
      files: {},
    };
    const add = async <C>(kind: ModelKind, model: LoadedModel<C>, graph: GraphBuilder): Promise<BundleModelEntry<C>> => {
      const file = `${kind}.onnx`;
      const started = Date.now();
      let lastLog = started;
      const written = await writeOnnxModel(graph, join(tmp, file), {
        source: weightsSource(model),
        onWeight: (_name, done, total) => {
          if (Date.now() - lastLog > 5000) {
            lastLog = Date.now();
            log(`${kind}: ${done}/${total} weights written`);
          }
        },
      });
      log(`${kind}: ${file} written (${(written.weightBytes / 2 ** 20).toFixed(1)} MiB of weights, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
      return {
        config: model.config,
        sourceFormat: model.format,
        sources: await Promise.all(model.files.map((p) => sourceRecord(p, kind, options))),
        graph: file,
      };
    };
    // The tokenizer is checked (and any error reported under the user's path) before minutes of graph building.
    if (inputs.dnabert) await loadDnaTokenizer(inputs.dnabert.tokenizerPath);
    if (inputs.esm2) {
      const m = inputs.esm2;
      manifest.models.esm2 = await add('esm2', m, buildEsm2Graph(m.config, m.weights, { precision: options.precision }, m.files[0] ?? 'ESM-2'));
    }
    if (inputs.dnabert) {
      const m = inputs.dnabert.model;
      const entry = await add('dnabert-s', m, buildDnabertGraph(m.config, m.weights, { precision: options.precision }, m.files[0] ?? 'DNABERT-S'));
      entry.tokenizer = 'dnabert-s.tokenizer.json';
      await copyFile(inputs.dnabert.tokenizerPath, join(tmp, entry.tokenizer));
      manifest.models['dnabert-s'] = entry;
    }
    if (inputs.classifier) {
      const m = inputs.classifier;
      manifest.models.classifier = await add('classifier', m, buildClassifierGraph(m.config, m.weights, m.files[0] ?? 'classifier'));
    }
    // Hashed through the bundle's memo, so the first open does not read the files again.
    const memo = await FileHashMemo.load(join(tmp, VERIFIED_NAME));
    for (const entry of Object.values(manifest.models)) {
      for (const f of bundleFilesOf(entry)) manifest.files[f] = { bytes: (await stat(join(tmp, f))).size, sha256: (await memo.sha256(f, join(tmp, f))).sha256 };
    }
    await memo.save();
    await writeFileAtomic(join(tmp, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
    if (options.overwrite) await rm(out, { recursive: true, force: true });
    await rename(tmp, out);
    return manifest;
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** The files of the bundle one model runs from: its graph, the graph's external data, and DNABERT-S's tokenizer. */
export function bundleFilesOf(entry: BundleModelEntry): string[] {
  return [entry.graph, `${entry.graph}.data`, ...(entry.tokenizer ? [entry.tokenizer] : [])];
}

export interface OpenedBundle {
  dir: string;
  manifest: BundleManifest;
  /** Absolute path of a file of the bundle. */
  path(file: string): string;
}

/** True when `dir` looks like a bundle (has a manifest.json). */
export async function isBundle(dir: string): Promise<boolean> {
  return pathExists(join(dir, MANIFEST_NAME));
}

export interface OpenBundleOptions {
  /** 'full': read every file again, whatever `.verified.json` says. */
  verify?: 'full';
  /** Cache root for the memo of a read-only bundle (default: resolveCacheDir()). */
  cacheDir?: string;
}

/**
 * Opens a bundle and checks it: format and version, every file present with the recorded size and
 * content (sha256; trusted from `.verified.json` when the file's stat identity is unchanged since it
 * was last verified). Refuses with the command that re-creates it.
 */
export async function openBundle(dir: string, options: OpenBundleOptions = {}): Promise<OpenedBundle> {
  const root = resolve(dir);
  const manifestPath = join(root, MANIFEST_NAME);
  let hint = reprepareHint(undefined, root);
  let manifest: BundleManifest;
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch (e) {
    throw new InputError(`${manifestPath}: cannot read the bundle manifest (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { hint });
  }
  try {
    manifest = JSON.parse(text) as BundleManifest;
  } catch (e) {
    throw new InputError(`${manifestPath}: not a readable bundle manifest (${jsonSyntaxProblem(e)})`, { hint });
  }
  if (manifest?.format !== 'virnucpro-bundle' || typeof manifest.files !== 'object' || typeof manifest.models !== 'object') {
    throw new InputError(`${manifestPath}: not a virnucpro bundle manifest`, { hint });
  }
  hint = reprepareHint(manifest, root);
  if (manifest.formatVersion !== BUNDLE_FORMAT_VERSION) {
    throw new InputError(
      `${root}: bundle format version ${manifest.formatVersion} (made by virnucpro ${manifest.tool?.version ?? '?'}) is not supported by virnucpro ${TOOL_VERSION}, which reads version ${BUNDLE_FORMAT_VERSION}`,
      { hint },
    );
  }
  for (const entry of Object.values(manifest.models)) {
    for (const f of bundleFilesOf(entry)) {
      if (!manifest.files[f]) throw new InputError(`${manifestPath}: file ${f} is not listed in the manifest`, { hint });
    }
  }
  const memo = await FileHashMemo.load(await memoPath(root, options.cacheDir));
  for (const [file, rec] of Object.entries(manifest.files)) {
    const p = join(root, file);
    let size: number;
    try {
      size = (await stat(p)).size;
    } catch {
      throw new InputError(`${root}: bundle file ${file} is missing`, { hint });
    }
    if (size !== rec.bytes) throw new InputError(`${root}: bundle file ${file} is ${size} bytes, the manifest says ${rec.bytes}`, { hint });
    if (typeof rec.sha256 !== 'string') throw new InputError(`${manifestPath}: no checksum for ${file}`, { hint });
    const { sha256 } = await memo.sha256(file, p, { reread: options.verify === 'full' });
    if (sha256 !== rec.sha256) {
      throw new InputError(`${root}: bundle file ${file} does not match its checksum in the manifest (it was changed or damaged)`, { hint });
    }
  }
  memo.retainOnly(new Set(Object.keys(manifest.files)));
  await memo.save();
  return { dir: root, manifest, path: (file) => join(root, file) };
}

/** The memo of a bundle: in the bundle when it is writable, else under the cache directory. */
async function memoPath(root: string, cacheDir: string | undefined): Promise<string> {
  try {
    await access(root, fsConstants.W_OK);
    return join(root, VERIFIED_NAME);
  } catch {
    const id = createHash('sha256').update(root).digest('hex').slice(0, 16);
    return join(resolveCacheDir(cacheDir), 'verified', `bundle-${id}.json`);
  }
}

/** The `models prepare` command that re-creates a bundle, from the sources its manifest records. */
function reprepareHint(manifest: BundleManifest | undefined, root: string): string {
  const sourceOf = (entry: BundleModelEntry | undefined): string | undefined => {
    const first = entry?.sources?.[0]?.path;
    return first === undefined ? undefined : entry?.sourceFormat === 'hf directory' ? dirname(first) : first;
  };
  const m = manifest?.models;
  const args = [
    `--esm ${sourceOf(m?.esm2) ?? 'PATH'}`,
    `--dnabert ${sourceOf(m?.['dnabert-s']) ?? 'DIR'}`,
    `--classifier ${sourceOf(m?.classifier) ?? 'PTH'}`,
    `--out ${root} --force`,
    ...(manifest?.precision === 'fp16' ? ['--fp16'] : []),
  ];
  return `re-create it with \`virnucpro models prepare ${args.join(' ')}\``;
}

/** What the weights of `model` were read from, for messages: the weight file, or the model's directory. */
function weightsSource(model: LoadedModel<unknown>): string {
  const weights = model.files.filter((f) => !f.endsWith('.json'));
  if (weights.length === 1) return weights[0];
  return model.files.length > 0 ? dirname(model.files[0]) : model.kind;
}

async function sourceRecord(path: string, kind: ModelKind, options: WriteBundleOptions): Promise<{ path: string } & FileRecord> {
  const bytes = (await stat(path)).size;
  const record: { path: string } & FileRecord = { path: resolve(path), bytes };
  if (!options.sourceChecksums) return record;
  record.sha256 = options.sourceMemo ? (await options.sourceMemo.sha256(resolve(path), path)).sha256 : await sha256File(path);
  // Classifier files are small (MBs); their git blob id is the only checksum GitHub publishes.
  if (kind === 'classifier') record.gitSha1 = await gitBlobSha1OfFile(path, bytes);
  return record;
}
