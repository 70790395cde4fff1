/**
 * Graphs for raw weights. `embed --weights model.pt` must first turn the
 * weights into an ONNX graph with external data (sessions load graphs by
 * path). The graph is written as a one-model bundle under
 * `<cache>/graphs/<key>/`, keyed by the source files (path, size, mtime), the
 * config, the precision and the bundle format version, so the second run
 * reuses it. Models with no source file (built in memory) go to a temporary
 * directory removed on release.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Precision } from '../formats/onnx/layers.js';
import { BUNDLE_FORMAT_VERSION, isBundle, writeBundle, type BundleInputs } from '../models/bundle.js';
import { resolveCacheDir } from '../models/cache.js';
import type { LoadedModel } from '../models/config.js';

export interface CachedGraph {
  /** Bundle directory holding the graph. */
  dir: string;
  /** Removes a temporary bundle (no-op for cache entries). */
  release(): Promise<void>;
}

export interface GraphCacheOptions {
  precision: Precision;
  /** Cache root (default: resolveCacheDir(): VIRNUCPRO_CACHE, XDG cache, ~/.cache/virnucpro). */
  cacheDir?: string;
  log?: (line: string) => void;
}

/** A bundle directory for one raw model, from the cache or freshly written. */
export async function graphFor(inputs: BundleInputs, options: GraphCacheOptions): Promise<CachedGraph> {
  const model = (inputs.esm2 ?? inputs.dnabert?.model ?? inputs.classifier) as LoadedModel<unknown>;
  if (model.files.length === 0) {
    const dir = join(await mkdtemp(join(tmpdir(), 'virnucpro-graph-')), 'bundle');
    await writeBundle(dir, inputs, { precision: options.precision, log: options.log });
    return { dir, release: () => rm(join(dir, '..'), { recursive: true, force: true }) };
  }
  const key = await cacheKey(model, options.precision, inputs.dnabert?.tokenizerPath);
  const dir = join(resolveCacheDir(options.cacheDir), 'graphs', `${model.kind}-${key}`);
  if (!(await isBundle(dir))) {
    options.log?.(`building the ${model.kind} graph for ${model.files[0]} (cached in ${dir})`);
    try {
      await writeBundle(dir, inputs, { precision: options.precision, log: options.log });
    } catch (e) {
      // Another process may have finished the same entry first.
      if (!(await isBundle(dir))) throw e;
    }
  }
  return { dir, release: async () => undefined };
}

async function cacheKey(model: LoadedModel<unknown>, precision: Precision, tokenizerPath?: string): Promise<string> {
  const files = await Promise.all(
    [...model.files, ...(tokenizerPath ? [tokenizerPath] : [])].map(async (f) => {
      const s = await stat(f);
      return [resolve(f), s.size, s.mtimeMs];
    }),
  );
  const identity = JSON.stringify({ v: BUNDLE_FORMAT_VERSION, kind: model.kind, format: model.format, precision, config: model.config, files });
  return createHash('sha256').update(identity).digest('hex').slice(0, 16);
}
