/**
 * The three models a `predict` run uses, from whatever the user gave: a
 * prepared bundle (`--models`), raw weight files (`--esm/--dnabert/--classifier`,
 * turned into graphs once and cached), or the built-in demo models (`--demo`).
 * Workers receive bundle directories only; the parent checks here that the
 * models fit together, that the classifier suits `-e` when it is one of
 * VirNucPro's published ones (recognised by content), and fingerprints them
 * for resume from the checksums of the files actually run (verified when the
 * bundles are opened). run.json records each file with its sha256, read from
 * the checks already made (the bundle manifests, verified on opening; the graph
 * cache's memo of source checksums), so no file is hashed again for it.
 */
import { createHash } from 'node:crypto';
import { access, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Precision } from '../formats/onnx/layers.js';
import { bundleFilesOf, openBundle, type BundleInputs, type BundleModelEntry, type OpenedBundle } from '../models/bundle.js';
import type { ClassifierConfig, DnabertConfig, Esm2Config } from '../models/config.js';
import { loadClassifier, loadDnabert, loadEsm2 } from '../models/load.js';
import { publishedClassifier, type PublishedClassifier } from '../hub/registry.js';
import { DEMO_WARNING, ensureDemoModels, isDemoModel } from '../demo/demo-models.js';
import { graphFor } from '../runtime/graph-cache.js';
import { InputError, UsageError } from '../util/errors.js';

export interface ModelChoice {
  /** A prepared bundle with all three models. */
  bundle?: string;
  esm?: string;
  dnabert?: string;
  classifier?: string;
  /** The built-in demo models, generated into the cache directory on first use (instead of bundle or raw files). */
  demo?: boolean;
  /** Precision of graphs built from raw weights (bundles carry their own). */
  precision: Precision;
  cacheDir?: string;
  /** The run's `-e`: checked against the chunk length a published classifier was trained for. */
  expectedLength?: number;
  /** Run a published classifier with another `-e` (a warning instead of an error). */
  allowLengthMismatch?: boolean;
  /** The published classifiers to recognise (default: VirNucPro's, hub/registry.ts; tests pass their own). */
  publishedClassifiers?: readonly PublishedClassifier[];
  /** Detail lines (verbose). */
  log?: (line: string) => void;
  /** Warnings, always shown. */
  warn?: (line: string) => void;
}

export interface ResolvedModels {
  /** Bundle directory holding each model (one directory for a full bundle). */
  dirs: { esm2: string; dnabert: string; classifier: string };
  configs: { esm2: Esm2Config; dnabert: DnabertConfig; classifier: ClassifierConfig };
  precision: Precision;
  /** Fingerprint of the graphs and weights actually run (from the bundle manifests' file checksums). */
  sha256: string;
  /** For run.json: where each model came from (the classifier: which published one it is, if any). */
  sources: Record<string, ModelSources>;
}

type ModelName = 'esm2' | 'dnabert-s' | 'classifier';

/** One file of a model, for run.json: absolute path, size and content checksum. */
export interface ModelFile {
  path: string;
  bytes: number;
  /** null only for a bundle prepared without source checksums (its own files always have one). */
  sha256: string | null;
}

export interface ModelSources {
  /** Bundle directory the model was run from (a prepared bundle, or the graph cache's entry for raw files). */
  bundle: string;
  sourceFormat: string;
  /** The source files' paths (kept as before for readers of run.json; `sourceFiles` has their checksums). */
  sources: string[];
  /**
   * The weight, config and tokenizer files the graph was built from. Raw files: the given files, checked by
   * content at this run (through the graph cache's memo). Bundle: as its manifest recorded them when it was
   * prepared (those files need not exist where the bundle runs).
   */
  sourceFiles: ModelFile[];
  /** The files actually loaded: the bundle's graph, its external data and tokenizer, each verified against the manifest on opening. */
  bundleFiles: ModelFile[];
  published?: string;
}

const HOW = 'give either --models BUNDLE (from `virnucpro models prepare`) or all of --esm, --dnabert and --classifier (or --demo)';

/** DEMO_WARNING when the run uses the demo models, with --demo or given by path; else undefined. */
export function demoWarningFor(choice: ModelChoice): string | undefined {
  const byPath = [choice.esm, choice.dnabert, choice.classifier].some((p) => p !== undefined && isDemoModel(p));
  return choice.demo || byPath ? DEMO_WARNING : undefined;
}

export async function resolveModels(choice: ModelChoice): Promise<ResolvedModels> {
  const raw = [choice.esm, choice.dnabert, choice.classifier];
  const anyRaw = raw.some((x) => x !== undefined);
  if (choice.demo) {
    if (choice.bundle || anyRaw) throw new UsageError('--demo cannot be combined with --models/--esm/--dnabert/--classifier');
    const demo = await ensureDemoModels(choice.cacheDir);
    return resolveModels({ ...choice, demo: false, esm: demo.esm, dnabert: demo.dnabert, classifier: demo.classifier });
  }
  if (choice.bundle && anyRaw) throw new UsageError(`--models cannot be combined with --esm/--dnabert/--classifier`, { hint: HOW });
  let bundles: { esm2: OpenedBundle; dnabert: OpenedBundle; classifier: OpenedBundle };
  /** Raw mode: the user's files (a cached graph's manifest names whichever copy first built it). */
  let rawFiles: Record<ModelName, string[]> | undefined;
  /** Raw mode: the user's files with the checksums the graph cache keyed them by. */
  const rawSums: Partial<Record<ModelName, ModelFile[]>> = {};
  if (choice.bundle) {
    const b = await openBundle(choice.bundle, { cacheDir: choice.cacheDir });
    for (const kind of ['esm2', 'dnabert-s', 'classifier'] as const) {
      if (!b.manifest.models[kind]) {
        throw new InputError(`${b.dir}: the bundle has no ${kind} model`, {
          hint: 'prepare a complete bundle with `virnucpro models prepare --esm PATH --dnabert DIR --classifier PTH --out DIR`',
        });
      }
    }
    bundles = { esm2: b, dnabert: b, classifier: b };
  } else {
    if (!choice.esm || !choice.dnabert || !choice.classifier) {
      const missing = ['--esm', '--dnabert', '--classifier'].filter((_, i) => raw[i] === undefined);
      throw new UsageError(`missing model${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`, { hint: HOW });
    }
    const tokenizerPath = join(choice.dnabert, 'tokenizer.json');
    try {
      await access(tokenizerPath);
    } catch {
      throw new InputError(`${choice.dnabert}: no tokenizer.json in the DNABERT-S directory`, {
        hint: 'use the Hugging Face directory of zhihan1996/DNABERT-S (config.json, tokenizer.json and the weights), e.g. from `virnucpro models fetch dnabert-s`',
      });
    }
    const opts = { precision: choice.precision, cacheDir: choice.cacheDir, log: choice.log };
    const [esm2, dnabert, classifier] = await Promise.all([loadEsm2(choice.esm), loadDnabert(choice.dnabert), loadClassifier(choice.classifier)]);
    const open = async (name: ModelName, inputs: BundleInputs) => {
      const graph = await graphFor(inputs, opts);
      rawSums[name] = await Promise.all(graph.sources.map(async (f) => ({ path: f.path, bytes: (await stat(f.path)).size, sha256: f.sha256 })));
      return openBundle(graph.dir, { cacheDir: choice.cacheDir });
    };
    // The classifier first: its graph takes a second, and a wrong -e is refused before ESM-2's takes minutes.
    const clsBundle = await open('classifier', { classifier });
    checkExpectedLength(choice, clsBundle.manifest.models.classifier!, clsBundle);
    bundles = {
      esm2: await open('esm2', { esm2 }),
      dnabert: await open('dnabert-s', { dnabert: { model: dnabert, tokenizerPath } }),
      classifier: clsBundle,
    };
    rawFiles = { esm2: esm2.files, 'dnabert-s': dnabert.files, classifier: classifier.files };
  }

  const esmEntry = bundles.esm2.manifest.models.esm2!;
  const dnaEntry = bundles.dnabert.manifest.models['dnabert-s']!;
  const clsEntry = bundles.classifier.manifest.models.classifier!;
  const configs = { esm2: esmEntry.config, dnabert: dnaEntry.config, classifier: clsEntry.config };
  const features = configs.dnabert.hiddenSize + configs.esm2.embedDim;
  if (configs.classifier.inputDim !== features) {
    throw new InputError(
      `the models do not fit together: the classifier (${clsEntry.sources[0]?.path ?? bundles.classifier.dir}) expects ${configs.classifier.inputDim} features, ` +
        `but DNABERT-S (${configs.dnabert.hiddenSize}) + ESM-2 (${configs.esm2.embedDim}) give ${features}`,
      { hint: 'use the classifier trained for these embedding models (300_model.pth / 500_model.pth for DNABERT-S + ESM-2 3B)' },
    );
  }
  if (configs.classifier.numClasses !== 2) {
    throw new InputError(`the classifier has ${configs.classifier.numClasses} classes; VirNucPro's has 2 (others, virus)`);
  }
  const published = choice.bundle ? checkExpectedLength(choice, clsEntry, bundles.classifier) : publishedClassifier(clsEntry.sources[0] ?? {}, choice.publishedClassifiers);
  const precisions = new Set([bundles.esm2, bundles.dnabert, bundles.classifier].map((b) => b.manifest.precision));
  const precision = precisions.size === 1 ? [...precisions][0] : choice.precision;
  return {
    dirs: { esm2: bundles.esm2.dir, dnabert: bundles.dnabert.dir, classifier: bundles.classifier.dir },
    configs,
    precision,
    sha256: fingerprint([
      ['esm2', bundles.esm2, esmEntry],
      ['dnabert-s', bundles.dnabert, dnaEntry],
      ['classifier', bundles.classifier, clsEntry],
    ]),
    sources: {
      esm2: modelSources(bundles.esm2, esmEntry, rawFiles?.esm2, rawSums.esm2),
      'dnabert-s': modelSources(bundles.dnabert, dnaEntry, rawFiles?.['dnabert-s'], rawSums['dnabert-s']),
      classifier: { ...modelSources(bundles.classifier, clsEntry, rawFiles?.classifier, rawSums.classifier), ...(published ? { published: published.id } : {}) },
    },
  };
}

/** run.json's record of one model: its source files and the bundle files run, with their checksums. */
function modelSources(bundle: OpenedBundle, entry: BundleModelEntry, rawFiles: string[] | undefined, rawSums: ModelFile[] | undefined): ModelSources {
  return {
    bundle: bundle.dir,
    sourceFormat: entry.sourceFormat,
    sources: rawFiles ?? entry.sources.map((s) => s.path),
    sourceFiles: rawSums ?? entry.sources.map((s) => ({ path: resolve(s.path), bytes: s.bytes, sha256: s.sha256 ?? null })),
    bundleFiles: bundleFilesOf(entry).map((f) => {
      const rec = bundle.manifest.files[f];
      return { path: bundle.path(f), bytes: rec.bytes, sha256: rec.sha256 ?? null };
    }),
  };
}

/**
 * Refuses (or, with --allow-length-mismatch, warns about) a published classifier run with another `-e`
 * than it was trained for. Returns the published classifier the bundle's classifier is, if any.
 */
function checkExpectedLength(choice: ModelChoice, entry: BundleModelEntry, bundle: OpenedBundle): PublishedClassifier | undefined {
  const published = publishedClassifier(entry.sources[0] ?? {}, choice.publishedClassifiers);
  if (!published || choice.expectedLength === undefined || published.expectedLength === choice.expectedLength) return published;
  const src = (choice.bundle ? entry.sources[0]?.path : choice.classifier) ?? '';
  const what = choice.bundle ? `${bundle.dir}: the bundle's classifier (${basename(src)})` : src;
  const known = basename(src) === published.file ? '' : ` (${published.file})`;
  const message = `${what} is VirNucPro's published classifier for -e ${published.expectedLength}${known}, not for -e ${choice.expectedLength}`;
  if (!choice.allowLengthMismatch) {
    throw new UsageError(message, {
      hint: `use -e ${published.expectedLength}, or the classifier trained for ${choice.expectedLength} bp; --allow-length-mismatch runs it anyway`,
    });
  }
  choice.warn?.(`warning: ${message}; running it anyway (--allow-length-mismatch)`);
  return published;
}

/**
 * Checksums of every graph, weight and tokenizer file run, per model, independent of where the bundles live
 * and of whether the three models share one bundle (a prepared bundle and the cached graphs of the same raw
 * files give the same fingerprint, so either can resume the other's run).
 */
function fingerprint(models: Array<[string, OpenedBundle, BundleModelEntry]>): string {
  const files = models.map(([kind, bundle, entry]) => [
    kind,
    bundle.manifest.precision,
    ...bundleFilesOf(entry).map((f) => {
      const rec = bundle.manifest.files[f];
      return [f, rec?.bytes ?? null, rec?.sha256 ?? null];
    }),
  ]);
  return createHash('sha256').update(JSON.stringify(files)).digest('hex');
}
