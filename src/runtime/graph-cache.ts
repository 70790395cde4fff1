/**
 * Graphs for raw weights. `embed --weights model.pt` must first turn the
 * weights into an ONNX graph with external data (sessions load graphs by
 * path). The graph is written as a one-model bundle under
 * `<cache>/graphs/<key>/`, keyed by the CONTENT of the source files (their
 * sha256s), the config, the precision and the bundle format version, so the
 * second run reuses it and a changed file never does, even one with the same
 * path, size and mtime. Source checksums are remembered by stat identity in
 * `<cache>/graphs/.sources.json` (util/hash-memo.ts), so an 11 GB checkpoint is
 * read once, not on every run. Models with no source file (built in memory) go
 * to a temporary directory removed on release.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Precision } from '../formats/onnx/layers.js';
import { BUNDLE_FORMAT_VERSION, isBundle, openBundle, writeBundle, type BundleInputs } from '../models/bundle.js';
import type { LoadedModel } from '../models/config.js';
import { checkTokenizerFile } from '../models/tokenizers/dnabert.js';
import { resolveCacheDir } from '../util/cache-dir.js';
import { InputError } from '../util/errors.js';
import { FileHashMemo } from '../util/hash-memo.js';

export interface CachedGraph {
  /** Bundle directory holding the graph. */
  dir: string;
  /**
   * The source files the graph stands for (resolved paths, tokenizer included), with the sha256 the cache
   * key was made of (read through the memo, so a caller that records them hashes nothing again); empty for
   * a model built in memory.
   */
  sources: Array<{ path: string; sha256: string }>;
  /** Removes a temporary bundle (no-op for cache entries). */
  release(): Promise<void>;
}

export interface GraphCacheOptions {
  precision: Precision;
  /** Cache root (default: resolveCacheDir(): VIRNUCPRO_CACHE, XDG cache, ~/.cache/virnucpro). */
  cacheDir?: string;
  log?: (line: string) => void;
}

/** Source files remembered in the memo (oldest forgotten first): enough for many model versions. */
const MEMO_ENTRIES = 500;

/** A bundle directory for one raw model, from the cache or freshly written. */
export async function graphFor(inputs: BundleInputs, options: GraphCacheOptions): Promise<CachedGraph> {
  const model = (inputs.esm2 ?? inputs.dnabert?.model ?? inputs.classifier) as LoadedModel<unknown>;
  if (model.files.length === 0) {
    const dir = join(await mkdtemp(join(tmpdir(), 'virnucpro-graph-')), 'bundle');
    await writeBundle(dir, inputs, { precision: options.precision, log: options.log });
    return { dir, sources: [], release: () => rm(join(dir, '..'), { recursive: true, force: true }) };
  }
  // Before anything reads it: a tokenizer.json linking outside its model directory is refused.
  if (inputs.dnabert?.tokenizerPath) await checkTokenizerFile(inputs.dnabert.tokenizerPath);
  const graphs = join(resolveCacheDir(options.cacheDir), 'graphs');
  const memo = await FileHashMemo.load(join(graphs, '.sources.json'), { maxEntries: MEMO_ENTRIES });
  const sources = [...new Set([...model.files, ...(inputs.dnabert?.tokenizerPath ? [inputs.dnabert.tokenizerPath] : [])].map((f) => resolve(f)))];
  const checksums = async (): Promise<string[]> => {
    const sums: string[] = [];
    for (const f of sources) sums.push((await memo.sha256(f, f)).sha256);
    return sums;
  };
  const before = await checksums();
  await memo.save();
  const sourceSums = sources.map((path, i) => ({ path, sha256: before[i] }));
  const dir = join(graphs, `${model.kind}-${cacheKey(model, options.precision, before)}`);
  const exists = await isBundle(dir);
  if (exists) {
    try {
      await openBundle(dir, { cacheDir: options.cacheDir });
      return { dir, sources: sourceSums, release: async () => undefined };
    } catch (e) {
      // A damaged cache entry is rebuilt rather than refused: it is ours, not the user's.
      options.log?.(`the cached graph ${dir} is damaged (${(e as Error).message}); building it again`);
    }
  }
  options.log?.(`building the ${model.kind} graph for ${model.files[0]} (cached in ${dir})`);
  try {
    await writeBundle(dir, inputs, { precision: options.precision, log: options.log, sourceChecksums: true, sourceMemo: memo, overwrite: exists });
  } catch (e) {
    // Another process may have finished the same entry first (a damaged one left in place does not count).
    const finished = (await isBundle(dir)) && (await openBundle(dir, { cacheDir: options.cacheDir }).then(() => true, () => false));
    if (!finished) throw e;
  }
  // The graph was read from the files as they were during the build: they must still be what the key says.
  const after = await checksums();
  const changed = sources.filter((_, i) => after[i] !== before[i]);
  if (changed.length > 0) {
    await rm(dir, { recursive: true, force: true });
    throw new InputError(`${changed.join(', ')}: changed while the graph was being built from ${changed.length > 1 ? 'them' : 'it'}`, {
      hint: 'run the command again once the model files are no longer being written',
    });
  }
  await memo.save();
  return { dir, sources: sourceSums, release: async () => undefined };
}

function cacheKey(model: LoadedModel<unknown>, precision: Precision, sha256s: string[]): string {
  // Contents only (in the loader's order), not paths or names: the same model copied elsewhere reuses the graph.
  const identity = JSON.stringify({ v: BUNDLE_FORMAT_VERSION, kind: model.kind, format: model.format, precision, config: model.config, files: sha256s });
  return createHash('sha256').update(identity).digest('hex').slice(0, 16);
}
