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
 * half-written bundle is never taken for a finished one. Opening a bundle
 * checks the format version and every file's size (and the checksum of the
 * small files; all checksums with `verify: 'full'`).
 */
import { copyFile, mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { sha256File } from '../util/hash.js';
import { InputError } from '../util/errors.js';
import { TOOL_VERSION } from '../util/version.js';
import type { GraphBuilder } from '../formats/onnx/graph.js';
import type { Precision } from '../formats/onnx/layers.js';
import { writeOnnxModel } from '../formats/onnx/writer.js';
import type { ClassifierConfig, DnabertConfig, Esm2Config, LoadedModel, ModelKind } from './config.js';
import { buildClassifierGraph } from './classifier.js';
import { buildDnabertGraph } from './dnabert.js';
import { buildEsm2Graph } from './esm2.js';
import { pathExists } from '../util/fs.js';

/**
 * Version of the graphs' contract (inputs, outputs, numerics). Bump it when a
 * builder changes what a graph computes: older bundles are then refused.
 */
export const BUNDLE_FORMAT_VERSION = 2;
// 2: fused attention/rotary kernels, packed projections split at build time, float32 residual
//    stream under --fp16 (fp32 results equal up to float rounding; graphs rebuilt for speed).
export const MANIFEST_NAME = 'manifest.json';

export interface FileRecord {
  bytes: number;
  sha256?: string;
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
  /** sha256 of every source file in the manifest (reads them once more; off for the graph cache). */
  sourceChecksums?: boolean;
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
        sources: await Promise.all(model.files.map(async (p) => ({ path: resolve(p), ...(await fileRecord(p, options.sourceChecksums ?? false)) }))),
        graph: file,
      };
    };
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
    for (const entry of Object.values(manifest.models)) {
      for (const f of bundleFilesOf(entry)) manifest.files[f] = await fileRecord(join(tmp, f), true);
    }
    await writeFileAtomic(join(tmp, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
    if (options.overwrite) await rm(out, { recursive: true, force: true });
    await rename(tmp, out);
    return manifest;
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

function bundleFilesOf(entry: BundleModelEntry): string[] {
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

/**
 * Opens a bundle and checks it: format and version, every file present with
 * the recorded size, checksums of graphs and tokenizer (of everything with
 * `verify: 'full'`). Refuses with a message that says how to re-prepare.
 */
export async function openBundle(dir: string, options: { verify?: 'sizes' | 'full' } = {}): Promise<OpenedBundle> {
  const root = resolve(dir);
  const manifestPath = join(root, MANIFEST_NAME);
  const hint = 're-create it with `virnucpro models prepare --esm PATH --dnabert DIR --classifier PTH --out DIR`';
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as BundleManifest;
  } catch (e) {
    throw new InputError(`${manifestPath}: not a readable bundle manifest: ${(e as Error).message}`, { hint });
  }
  if (manifest?.format !== 'virnucpro-bundle' || typeof manifest.files !== 'object' || typeof manifest.models !== 'object') {
    throw new InputError(`${manifestPath}: not a virnucpro bundle manifest`, { hint });
  }
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
  for (const [file, rec] of Object.entries(manifest.files)) {
    const p = join(root, file);
    let size: number;
    try {
      size = (await stat(p)).size;
    } catch {
      throw new InputError(`${root}: bundle file ${file} is missing`, { hint });
    }
    if (size !== rec.bytes) throw new InputError(`${root}: bundle file ${file} is ${size} bytes, the manifest says ${rec.bytes}`, { hint });
    const small = !file.endsWith('.data');
    if (rec.sha256 && (small || options.verify === 'full')) {
      const actual = await sha256File(p);
      if (actual !== rec.sha256) throw new InputError(`${root}: bundle file ${file} does not match its checksum in the manifest`, { hint });
    }
  }
  return { dir: root, manifest, path: (file) => join(root, file) };
}

async function fileRecord(path: string, checksum: boolean): Promise<FileRecord> {
  const bytes = (await stat(path)).size;
  return checksum ? { bytes, sha256: await sha256File(path) } : { bytes };
}


