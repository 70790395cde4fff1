/**
 * The model cache: where fetched models live, what we know about each file
 * (size, checksum, where it came from), and how to find files that a Hugging
 * Face hub cache already holds.
 *
 * Layout of a cache directory:
 *
 *   models/<model-id>/<file>              complete, verified files (or links into a HF cache)
 *   models/<model-id>/<file>.partial      a transfer in progress (resumable)
 *   models/<model-id>/.virnucpro-fetch.json   record of every file (see ModelRecord)
 *   bundles/<name>/manifest.json          prepared bundles (written by `models prepare`)
 *
 * A model directory is laid out like the upstream repository, so it can be
 * passed as-is to `--esm`, `--dnabert` or `--classifier`. Where the cache
 * directory itself is (flag, environment) is util/cache-dir.ts.
 */
import { readFile, readdir, stat, lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { InputError } from '../util/errors.js';
import { regularFileSize } from '../util/fs.js';
import { KNOWN_MODELS, isModelId, type ModelId } from './registry.js';
import { jsonSyntaxProblem } from '../util/json.js';

export function modelDir(cacheDir: string, id: string): string {
  return join(cacheDir, 'models', id);
}

export function bundlesDir(cacheDir: string): string {
  return join(cacheDir, 'bundles');
}

export const RECORD_NAME = '.virnucpro-fetch.json';

/** What the cache knows about one file of a model. */
export interface FileRecord {
  size: number;
  sha256?: string;
  /** The git blob id, when that is what the file was checked against. */
  gitSha1?: string;
  /**
   * How the checksum is known: `verified` (matched one the server or registry
   * gave), `computed` (no reference existed; computed while downloading),
   * `hf-cache` (taken from the HF cache's blob name, not re-hashed).
   */
  checksum: 'verified' | 'computed' | 'hf-cache';
  origin: 'download' | 'hf-cache';
  /** Where it was downloaded from, or the HF cache file it links to. */
  from: string;
  /** Hub commit the file came from, when known. */
  commit?: string;
  at: string;
}

/** `models/<id>/.virnucpro-fetch.json`. */
export interface ModelRecord {
  model: string;
  /** Repository the files came from (e.g. `facebook/esm2_t36_3B_UR50D`). */
  repo: string;
  revision: string;
  files: Record<string, FileRecord>;
}

export async function readModelRecord(dir: string): Promise<ModelRecord | undefined> {
  const path = join(dir, RECORD_NAME);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  let rec: ModelRecord;
  try {
    rec = JSON.parse(text) as ModelRecord;
  } catch (e) {
    throw new InputError(`${path}: not a valid cache record (${jsonSyntaxProblem(e)})`, {
      hint: `delete it and run \`virnucpro models fetch\` again`,
    });
  }
  if (typeof rec === 'object' && rec !== null && typeof rec.files === 'object') return rec;
  throw new InputError(`${path}: not a valid cache record (no "files" object)`, {
    hint: `delete it and run \`virnucpro models fetch\` again`,
  });
}

export async function writeModelRecord(dir: string, record: ModelRecord): Promise<void> {
  await writeFileAtomic(join(dir, RECORD_NAME), JSON.stringify(record, null, 2) + '\n');
}

/** A file found in a Hugging Face hub cache. */
export interface HfCachedFile {
  /** `.../snapshots/<commit>/<file>` (usually a symlink into blobs/). */
  path: string;
  commit: string;
  /** The blob's name when the snapshot entry links to one: a sha256 for LFS files, a git blob id otherwise. */
  blobEtag?: string;
  size: number;
}

/**
 * Looks `file` of hub repository `repo` up in the HF cache at `hubCache`, at
 * `revision` (a branch resolved through refs/, or a commit hash). Returns
 * undefined when the cache does not have it.
 */
export async function findInHfCache(hubCache: string, repo: string, file: string, revision = 'main'): Promise<HfCachedFile | undefined> {
  const repoDir = join(hubCache, `models--${repo.replace(/\//g, '--')}`);
  let commit = revision;
  if (!/^[0-9a-f]{40}$/.test(revision)) {
    try {
      commit = (await readFile(join(repoDir, 'refs', revision), 'utf8')).trim();
    } catch {
      return undefined;
    }
  }
  const path = join(repoDir, 'snapshots', commit, file);
  const size = await regularFileSize(path);
  if (size === undefined) return undefined; // absent, or a dangling link
  let blobEtag: string | undefined;
  if ((await lstat(path)).isSymbolicLink()) {
    const target = await readlink(path);
    const name = target.split(/[\\/]/).pop() ?? '';
    if (/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(name)) blobEtag = name;
  }
  return { path, commit, blobEtag, size };
}

/** One file as `models list` reports it. */
export interface ListedFile {
  name: string;
  /** `ok`: complete; `partial`: a transfer to resume; `missing`: recorded but gone (e.g. a dangling link into a cleaned HF cache). */
  status: 'ok' | 'partial' | 'missing';
  size: number;
  sha256?: string;
  gitSha1?: string;
  checksum?: FileRecord['checksum'];
  origin?: FileRecord['origin'];
  /** For files reused from a HF cache: the file they link to. */
  linkedTo?: string;
}

export interface ListedModel {
  id: string;
  dir: string;
  /** True when the id is one `models fetch` knows. */
  known: boolean;
  repo?: string;
  /** Every file the registry requires is present. */
  complete: boolean;
  files: ListedFile[];
  size: number;
}

export interface ListedBundle {
  name: string;
  dir: string;
  size: number;
  precision?: string;
  toolVersion?: string;
  /** The models the bundle holds (keys of the manifest's `models`). */
  contains?: string[];
  /** Set when manifest.json could not be read as JSON. */
  error?: string;
}

export interface CacheListing {
  cacheDir: string;
  models: ListedModel[];
  bundles: ListedBundle[];
}

/** Everything under the cache directory: models (with their records) and prepared bundles. */
export async function listCache(cacheDir: string): Promise<CacheListing> {
  const models: ListedModel[] = [];
  for (const id of await subdirs(join(cacheDir, 'models'))) {
    models.push(await listModel(cacheDir, id));
  }
  const bundles: ListedBundle[] = [];
  for (const name of await subdirs(bundlesDir(cacheDir))) {
    const b = await describeBundle(join(bundlesDir(cacheDir), name), name);
    if (b) bundles.push(b);
  }
  return { cacheDir, models, bundles };
}

async function listModel(cacheDir: string, id: string): Promise<ListedModel> {
  const dir = modelDir(cacheDir, id);
  const record = await readModelRecord(dir);
  // Hidden names are the record and atomic-write temporaries; `.lock` marks a download in progress.
  const names = new Set<string>((await readdir(dir)).filter((n) => !n.startsWith('.') && !n.endsWith('.lock')));
  for (const n of Object.keys(record?.files ?? {})) names.add(n);
  const files: ListedFile[] = [];
  for (const name of [...names].sort()) {
    if (name.endsWith('.partial')) {
      files.push({ name, status: 'partial', size: (await regularFileSize(join(dir, name))) ?? 0 });
      continue;
    }
    const rec = record?.files[name];
    const path = join(dir, name);
    let st;
    try {
      st = await stat(path);
    } catch {
      st = undefined;
    }
    if (st && !st.isFile()) continue;
    const linked = (await lstat(path).catch(() => undefined))?.isSymbolicLink() ? await readlink(path) : undefined;
    files.push({
      name,
      status: st ? 'ok' : 'missing',
      size: st?.size ?? rec?.size ?? 0,
      sha256: rec?.sha256,
      gitSha1: rec?.gitSha1,
      checksum: rec?.checksum,
      origin: rec?.origin,
      linkedTo: linked,
    });
  }
  const known = isModelId(id);
  const present = new Set(files.filter((f) => f.status === 'ok').map((f) => f.name));
  const complete = known
    ? KNOWN_MODELS[id as ModelId].files.every((spec) => spec.names.some((n) => present.has(n)))
    : files.length > 0 && files.every((f) => f.status === 'ok');
  return {
    id,
    dir,
    known,
    repo: record?.repo ?? (known ? KNOWN_MODELS[id as ModelId].source.repo : undefined),
    complete,
    files,
    size: files.filter((f) => f.status === 'ok').reduce((a, f) => a + f.size, 0),
  };
}

/**
 * A prepared bundle is any directory with a manifest.json. Its format belongs
 * to `models prepare`; only the fields a listing needs are read, leniently.
 */
async function describeBundle(dir: string, name: string): Promise<ListedBundle | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, 'manifest.json'), 'utf8');
  } catch {
    return undefined;
  }
  const size = await treeSize(dir);
  try {
    const m = JSON.parse(text) as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    return {
      name,
      dir,
      size,
      precision: str(m.precision) ?? str(m.dtype),
      toolVersion: str(m.toolVersion) ?? str(m.tool_version) ?? str((m.tool as Record<string, unknown> | undefined)?.version),
      contains: m.models && typeof m.models === 'object' ? Object.keys(m.models as object) : undefined,
    };
  } catch (e) {
    return { name, dir, size, error: `manifest.json is not valid JSON (${jsonSyntaxProblem(e)})` };
  }
}

async function subdirs(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

async function treeSize(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await treeSize(p);
    else total += (await regularFileSize(p)) ?? 0;
  }
  return total;
}
