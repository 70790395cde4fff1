/**
 * `models fetch` as a library: make each requested model complete in the
 * cache, taking every file from the first place that has it:
 *   1. the cache itself (already fetched),
 *   2. a Hugging Face hub cache (linked, not copied),
 *   3. the network (unless offline), with resume, retries and verification.
 * Offline, everything missing is reported at once.
 */
import { copyFile, link, lstat, mkdir, realpath, rename, rm, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { tempNameFor } from '../util/atomic.js';
import { ResourceError } from '../util/errors.js';
import {
  findInHfCache,
  modelDir,
  readModelRecord,
  writeModelRecord,
  type FileRecord,
  type HfCachedFile,
  type ModelRecord,
} from './cache.js';
import { regularFileSize } from '../util/fs.js';
import { gitBlobSha1OfFile, sha256File } from '../util/hash.js';
import { DownloadError, downloadFile, type DownloadObserver } from './download.js';
import type { RetryPolicy } from '../util/retry.js';
import { KNOWN_MODELS, fileUrl, type KnownModel, type ModelFileSpec, type ModelId, type SourceUrls } from './registry.js';

export interface FetchOptions {
  models: readonly ModelId[];
  cacheDir: string;
  urls: SourceUrls;
  /** A Hugging Face hub cache to reuse files from; undefined disables reuse. */
  hfHubCache?: string;
  /** Use only what is cached; fail listing what is missing. */
  offline?: boolean;
  /** Hugging Face access token, sent to the hub only (for gated repositories). */
  hfToken?: string;
  retry?: RetryPolicy;
  /** The known models (tests substitute fixture checksums); defaults to KNOWN_MODELS. */
  registry?: Readonly<Record<ModelId, KnownModel>>;
  /** Re-hash files already in the cache and fetch again those that do not match their record. */
  verify?: boolean;
  events?: FetchEvents;
  signal?: AbortSignal;
}

/** How the caller hears about progress (the CLI draws bars or prints lines from these). */
export interface FetchEvents {
  /** A file is being downloaded; the returned observer receives its progress. */
  download?(model: ModelId, file: string, url: string): DownloadObserver | undefined;
  /** A file was taken from the cache, the HF cache, or the network. */
  resolved?(model: ModelId, file: FetchedFile): void;
  /** Something worth telling the user that is not an error. */
  note?(message: string): void;
}

export interface FetchedFile {
  name: string;
  path: string;
  how: 'cached' | 'hf-cache' | 'downloaded';
  size: number;
  sha256?: string;
}

export interface FetchedModel {
  id: ModelId;
  dir: string;
  files: FetchedFile[];
}

/** Fetches `opts.models` into the cache; resolves with where each model's files are. */
export async function fetchModels(opts: FetchOptions): Promise<FetchedModel[]> {
  const results: FetchedModel[] = [];
  const missing: string[] = [];
  for (const id of opts.models) {
    const model = (opts.registry ?? KNOWN_MODELS)[id];
    const dir = modelDir(opts.cacheDir, id);
    await mkdir(dir, { recursive: true });
    const record: ModelRecord = (await readModelRecord(dir)) ?? {
      model: id,
      repo: model.source.repo,
      revision: model.source.revision,
      files: {},
    };
    const files: FetchedFile[] = [];
    for (const spec of model.files) {
      const got = await resolveFile(model, spec, dir, record, opts);
      if (got) {
        files.push(got);
        opts.events?.resolved?.(id, got);
      } else {
        missing.push(`${id}: ${spec.names.join(' or ')} (${spec.role}, from ${model.source.repo})`);
      }
    }
    results.push({ id, dir, files });
  }
  if (missing.length > 0) {
    const where = [`${join(opts.cacheDir, 'models')}`];
    if (opts.hfHubCache) where.push(`the Hugging Face cache ${opts.hfHubCache}`);
    throw new ResourceError(
      `offline mode: ${missing.length} file(s) are not cached:\n  ${missing.join('\n  ')}\nlooked in ${where.join(' and ')}`,
      {
        hint: `run \`virnucpro models fetch ${[...new Set(missing.map((m) => m.split(':')[0]))].join(' ')}\` where the network allows and copy ${opts.cacheDir} here (or point VIRNUCPRO_CACHE / HF_HUB_CACHE at a shared copy); drop --offline / HF_HUB_OFFLINE to download`,
      },
    );
  }
  return results;
}

/** Makes one file of `model` present in `dir`; undefined only when offline and nowhere to be found. */
async function resolveFile(
  model: KnownModel,
  spec: ModelFileSpec,
  dir: string,
  record: ModelRecord,
  opts: FetchOptions,
): Promise<FetchedFile | undefined> {
  for (const name of spec.names) {
    const cached = await fromOwnCache(dir, name, record, opts);
    if (cached) return cached;
  }
  if (model.source.kind === 'huggingface' && opts.hfHubCache) {
    for (const name of spec.names) {
      const hf = await findInHfCache(opts.hfHubCache, model.source.repo, name, model.source.revision);
      if (hf) return linkFromHfCache(dir, name, hf, record);
    }
  }
  if (opts.offline) return undefined;
  return download(model, spec, dir, record, opts);
}

async function fromOwnCache(dir: string, name: string, record: ModelRecord, opts: FetchOptions): Promise<FetchedFile | undefined> {
  const path = join(dir, name);
  const size = await regularFileSize(path);
  if (size === undefined) return undefined;
  const rec = record.files[name];
  if (opts.verify && rec) {
    const problem = await checkAgainstRecord(path, rec);
    if (problem) {
      opts.events?.note?.(`${path}: ${problem}; fetching it again`);
      await rm(path, { force: true });
      delete record.files[name];
      await writeModelRecord(dir, record);
      return undefined;
    }
    if (rec.checksum === 'hf-cache') {
      rec.checksum = 'verified';
      await writeModelRecord(dir, record);
    }
  }
  return { name, path, how: 'cached', size, sha256: rec?.sha256 };
}

/** Re-hashes a cached file; returns what is wrong, or undefined when it matches. */
async function checkAgainstRecord(path: string, rec: FileRecord): Promise<string | undefined> {
  const size = (await stat(path)).size;
  if (size !== rec.size) return `size ${size} differs from the recorded ${rec.size}`;
  if (rec.sha256) {
    const got = await sha256File(path);
    return got === rec.sha256 ? undefined : `sha256 ${got} differs from the recorded ${rec.sha256}`;
  }
  if (rec.gitSha1) {
    const got = await gitBlobSha1OfFile(path, size);
    return got === rec.gitSha1 ? undefined : `git blob id ${got} differs from the recorded ${rec.gitSha1}`;
  }
  return undefined;
}

/** Small files reused from a HF cache are hashed so the listing can show a sha256; large ones keep their blob name. */
const HASH_REUSED_FILES_BELOW = 64 << 20;

async function linkFromHfCache(dir: string, name: string, hf: HfCachedFile, record: ModelRecord): Promise<FetchedFile> {
  const dest = join(dir, name);
  await placeWithoutCopying(hf.path, dest);
  const rec: FileRecord = {
    size: hf.size,
    checksum: 'hf-cache',
    origin: 'hf-cache',
    from: hf.path,
    commit: hf.commit,
    at: new Date().toISOString(),
  };
  if (hf.blobEtag?.length === 64) rec.sha256 = hf.blobEtag;
  else if (hf.blobEtag?.length === 40) rec.gitSha1 = hf.blobEtag;
  if (!rec.sha256 && hf.size < HASH_REUSED_FILES_BELOW) {
    rec.sha256 = await sha256File(hf.path);
    if (rec.gitSha1) {
      rec.checksum = (await gitBlobSha1OfFile(hf.path, hf.size)) === rec.gitSha1 ? 'verified' : 'computed';
    } else {
      rec.checksum = 'computed';
    }
  }
  record.files[name] = rec;
  await writeModelRecord(dir, record);
  return { name, path: dest, how: 'hf-cache', size: hf.size, sha256: rec.sha256 };
}

/**
 * Puts `target` at `dest` without copying its bytes when the filesystem allows:
 * a symbolic link, else a hard link, else (another device, no links) a copy.
 * The new name appears atomically.
 */
async function placeWithoutCopying(target: string, dest: string): Promise<void> {
  const tmp = tempNameFor(dest);
  try {
    await symlink(target, tmp);
  } catch {
    try {
      await link(await realpath(target), tmp);
    } catch {
      await copyFile(target, tmp);
    }
  }
  try {
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

async function download(model: KnownModel, spec: ModelFileSpec, dir: string, record: ModelRecord, opts: FetchOptions): Promise<FetchedFile> {
  const hub = model.source.kind === 'huggingface';
  const tried: string[] = [];
  for (const name of spec.names) {
    const url = fileUrl(model.source, name, opts.urls);
    const dest = join(dir, name);
    // A link left dangling by a cleaned HF cache: the download replaces it.
    if ((await lstat(dest).catch(() => undefined))?.isSymbolicLink()) await rm(dest, { force: true });
    try {
      const result = await downloadFile({
        url,
        dest,
        expected: spec.known?.[name],
        hubChecksums: hub,
        headers: hub && opts.hfToken ? { authorization: `Bearer ${opts.hfToken}` } : undefined,
        retry: opts.retry,
        observer: opts.events?.download?.(model.id, name, url),
        signal: opts.signal,
      });
      const known = spec.known?.[name];
      record.files[name] = {
        size: result.size,
        sha256: result.sha256,
        gitSha1: result.verifiedWith === 'git-sha1' ? known?.gitSha1 : undefined,
        checksum: result.verifiedWith === 'none' ? 'computed' : 'verified',
        origin: 'download',
        from: url,
        commit: result.commit,
        at: new Date().toISOString(),
      };
      await writeModelRecord(dir, record);
      return { name, path: dest, how: 'downloaded', size: result.size, sha256: result.sha256 };
    } catch (err) {
      if (err instanceof DownloadError && err.failure === 'not-found' && name !== spec.names[spec.names.length - 1]) {
        tried.push(url);
        opts.events?.note?.(`${model.id}: ${name} is not on the server; trying ${spec.names[spec.names.indexOf(name) + 1]}`);
        continue;
      }
      if (err instanceof DownloadError && err.failure === 'not-found' && tried.length > 0) {
        throw new DownloadError('not-found', url, `${model.id}: none of ${spec.names.join(', ')} was found (tried ${[...tried, url].join(', ')})`, {
          status: err.status,
          hint: err.hint,
        });
      }
      throw err;
    }
  }
  throw new Error('unreachable: a file spec lists no names');
}
