/**
 * Downloading one file over HTTP the way multi-gigabyte model weights need:
 * streamed to `<file>.partial`, resumed with a Range request after a dropped
 * connection (or a killed process), retried with exponential backoff on
 * network errors and 5xx, checked against the checksum the server or the
 * registry knows, and renamed to its final name only once complete and
 * verified.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirname } from 'node:path';
import { ResourceError } from '../util/errors.js';
import { syncDir } from '../util/atomic.js';
import { regularFileSize } from '../util/fs.js';
import { gitBlobSha1OfFile, hashFilePrefix } from '../util/hash.js';
import { acquireLock, describeOwner } from '../util/lock.js';
import { DEFAULT_RETRY, backoffDelayMs, type RetryPolicy } from '../util/retry.js';

/** Checksums a downloaded file must match (any that are given). */
export interface ExpectedChecksum {
  sha256?: string;
  /** Git blob id: sha1 of `blob <size>\0` + content (what the hub's ETag and git trees carry for small files). */
  gitSha1?: string;
  size?: number;
}

/** Receives progress; every method is optional. */
export interface DownloadObserver {
  /** A transfer began; `resumedFrom` bytes were already on disk. */
  start?(info: { total?: number; resumedFrom: number }): void;
  /** `received` counts all bytes in the partial file, resumed ones included. */
  data?(received: number, total?: number): void;
  /** An attempt failed and another follows after `delayMs`. */
  retry?(info: { attempt: number; delayMs: number; reason: string }): void;
}

export interface DownloadOptions {
  url: string;
  /** Final path; the transfer goes to `${dest}.partial` until verified. */
  dest: string;
  /** Checksums known in advance (from the registry). */
  expected?: ExpectedChecksum;
  /**
   * Read checksums from Hugging Face hub headers: `X-Linked-Etag` (sha256 of
   * LFS files) and a 40-hex `ETag` (git blob id of small files).
   */
  hubChecksums?: boolean;
  /** Extra request headers (e.g. Authorization); dropped when a redirect leaves the first origin. */
  headers?: Record<string, string>;
  retry?: RetryPolicy;
  observer?: DownloadObserver;
  signal?: AbortSignal;
}

export interface DownloadResult {
  path: string;
  size: number;
  sha256: string;
  /** What the content was verified against: a checksum the server or registry gave, or nothing (computed only). */
  verifiedWith: 'sha256' | 'git-sha1' | 'none';
  /** `X-Repo-Commit` of a hub response: the revision actually served. */
  commit?: string;
  /** Bytes reused from an earlier partial transfer. */
  resumedFrom: number;
}

export type DownloadFailure = 'not-found' | 'unauthorized' | 'http' | 'network' | 'checksum';

/** A download that could not complete; `failure` says why, `status` is the HTTP status when there was one. */
export class DownloadError extends ResourceError {
  readonly failure: DownloadFailure;
  readonly url: string;
  readonly status?: number;
  constructor(failure: DownloadFailure, url: string, message: string, options: { status?: number; hint?: string; cause?: unknown } = {}) {
    super(message, { hint: options.hint, cause: options.cause });
    this.failure = failure;
    this.url = url;
    this.status = options.status;
  }
}

/** The name a download is written under until it is complete and verified. */
export function partialPath(dest: string): string {
  return `${dest}.partial`;
}

/** Downloads `url` to `dest` (see the module comment). Resolves once `dest` exists, complete and verified. */
export async function downloadFile(opts: DownloadOptions): Promise<DownloadResult> {
  const release = await lockDownload(opts.dest);
  try {
    return await downloadLocked(opts);
  } finally {
    release();
  }
}

/**
 * Two processes appending to one `.partial` would corrupt it (a shared cache
 * on a cluster makes that likely), so a download holds `<dest>.lock`, created
 * exclusively. A lock left by a dead process on this host is taken over; one
 * held from another host is reported, since its owner cannot be checked.
 */
async function lockDownload(dest: string): Promise<() => void> {
  const lock = `${dest}.lock`;
  const attempt = await acquireLock(lock);
  if (attempt.acquired) return attempt.lock.release;
  throw new ResourceError(`${dest} is being downloaded by another virnucpro (${describeOwner(attempt.holder)})`, {
    hint: `wait for it to finish, or delete ${lock} if that process is gone`,
  });
}

async function downloadLocked(opts: DownloadOptions): Promise<DownloadResult> {
  const retry = opts.retry ?? DEFAULT_RETRY;
  const partial = partialPath(opts.dest);
  let failuresInARow = 0;
  let largestPartial = await bytesOnDisk(partial);
  let restartedAfterBadChecksum = false;
  for (;;) {
    try {
      return await attempt(opts, partial);
    } catch (err) {
      if (err instanceof ChecksumMismatch) {
        await rm(partial, { force: true });
        // Bytes kept from an earlier transfer may belong to an older version of the file: start over once.
        if (err.resumedFrom > 0 && !restartedAfterBadChecksum) {
          restartedAfterBadChecksum = true;
          largestPartial = 0;
          continue;
        }
        throw new DownloadError('checksum', opts.url, `${opts.url}: downloaded file does not match its checksum (${err.detail}); the partial file was deleted`, {
          hint: 'run the command again; if it fails the same way, the server or a proxy is serving a different file',
        });
      }
      if (!(err instanceof RetryableFailure)) throw err;
      const now = await bytesOnDisk(partial);
      if (now > largestPartial) {
        // Progress was made: a flaky connection that keeps delivering is worth continuing.
        largestPartial = now;
        failuresInARow = 0;
      }
      failuresInARow += 1;
      if (failuresInARow >= retry.attempts) {
        throw new DownloadError('network', opts.url, `${opts.url}: giving up after ${failuresInARow} failed attempts in a row: ${err.message}`, {
          status: err.status,
          hint: `the ${now} bytes received so far are kept in ${partial}; running the command again resumes from there`,
          cause: err,
        });
      }
      // Failures count only while no new bytes arrive (above), so `retry.attempts` bounds a stalled transfer, not a slow one.
      const delayMs = backoffDelayMs(retry, failuresInARow, err.retryAfterMs);
      opts.observer?.retry?.({ attempt: failuresInARow, delayMs, reason: err.message });
      await sleep(delayMs, undefined, { signal: opts.signal });
    }
  }
}

/** A failure worth another attempt (network error, 5xx, 429, truncated body). */
class RetryableFailure extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

class ChecksumMismatch extends Error {
  constructor(
    readonly detail: string,
    readonly resumedFrom: number,
  ) {
    super(detail);
  }
}

/** What the response headers say about the file (collected across redirects: the hub puts them on its 302). */
interface RemoteMeta {
  sha256?: string;
  gitSha1?: string;
  size?: number;
  commit?: string;
}

async function attempt(opts: DownloadOptions, partial: string): Promise<DownloadResult> {
  let resumeFrom = await bytesOnDisk(partial);
  const { response, meta } = await request(opts, resumeFrom);
  const status = response.status;

  let total: number | undefined;
  if (status === 206 && resumeFrom > 0) {
    const range = parseContentRange(response.headers.get('content-range'));
    if (!range || range.start !== resumeFrom) {
      await response.body?.cancel();
      await rm(partial, { force: true });
      throw new RetryableFailure(`server answered a Range request for bytes ${resumeFrom}- with ${response.headers.get('content-range') ?? 'no Content-Range'}`);
    }
    total = range.total;
  } else if (status === 200) {
    // Either a fresh transfer or a server that ignores Range: both start from byte 0.
    resumeFrom = 0;
    const len = response.headers.get('content-length');
    total = len !== null ? Number(len) : undefined;
  } else {
    await response.body?.cancel();
    throw new RetryableFailure(`unexpected HTTP ${status}`, status);
  }
  total ??= meta.size;
  const expected = expectedChecksums(opts, meta, total);

  const sha256 = createHash('sha256');
  // A git blob id hashes a size header first, so it can be computed incrementally only when the size is known.
  let gitSha1: Hash | undefined;
  if (expected.gitSha1 && total !== undefined) gitSha1 = createHash('sha1').update(`blob ${total}\0`);
  if (resumeFrom > 0) await hashFilePrefix(partial, resumeFrom, [sha256, gitSha1]);

  opts.observer?.start?.({ total, resumedFrom: resumeFrom });
  const fh = await open(partial, resumeFrom > 0 ? 'a' : 'w');
  let received = resumeFrom;
  try {
    if (!response.body) throw new RetryableFailure('response has no body');
    try {
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        await writeAll(fh, chunk);
        sha256.update(chunk);
        gitSha1?.update(chunk);
        received += chunk.byteLength;
        opts.observer?.data?.(received, total);
      }
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      throw new RetryableFailure(`connection lost after ${received} bytes: ${describeNetworkError(err)}`);
    }
    if (total !== undefined && received !== total) {
      throw new RetryableFailure(`transfer ended after ${received} of ${total} bytes`);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }

  const sha256Hex = sha256.digest('hex');
  let verifiedWith: DownloadResult['verifiedWith'] = 'none';
  if (expected.size !== undefined && expected.size !== received) {
    throw new ChecksumMismatch(`size ${received} bytes, expected ${expected.size}`, resumeFrom);
  }
  if (expected.sha256) {
    if (sha256Hex !== expected.sha256) throw new ChecksumMismatch(`sha256 ${sha256Hex}, expected ${expected.sha256}`, resumeFrom);
    verifiedWith = 'sha256';
  } else if (expected.gitSha1) {
    const got = gitSha1 ? gitSha1.digest('hex') : await gitBlobSha1OfFile(partial, received);
    if (got !== expected.gitSha1) throw new ChecksumMismatch(`git blob id ${got}, expected ${expected.gitSha1}`, resumeFrom);
    verifiedWith = 'git-sha1';
  }
  await rename(partial, opts.dest);
  await syncDir(dirname(opts.dest));
  return { path: opts.dest, size: received, sha256: sha256Hex, verifiedWith, commit: meta.commit, resumedFrom: resumeFrom };
}

/** Registry checksums win; otherwise what the hub's headers say. */
function expectedChecksums(opts: DownloadOptions, meta: RemoteMeta, total: number | undefined): ExpectedChecksum {
  const known = opts.expected ?? {};
  return {
    sha256: known.sha256?.toLowerCase() ?? meta.sha256,
    gitSha1: known.gitSha1?.toLowerCase() ?? meta.gitSha1,
    size: known.size ?? (meta.sha256 ? meta.size : undefined) ?? total,
  };
}

/** GET with redirects followed by hand, so the hub's headers on its redirect are not lost. */
async function request(opts: DownloadOptions, resumeFrom: number): Promise<{ response: Response; meta: RemoteMeta }> {
  const meta: RemoteMeta = {};
  let url = opts.url;
  const firstOrigin = new URL(url).origin;
  for (let hop = 0; hop < 10; hop++) {
    const headers: Record<string, string> = { 'user-agent': 'virnucpro', 'accept-encoding': 'identity' };
    if (new URL(url).origin === firstOrigin) Object.assign(headers, opts.headers);
    if (resumeFrom > 0) headers.range = `bytes=${resumeFrom}-`;
    let response: Response;
    try {
      response = await fetch(url, { redirect: 'manual', headers, signal: opts.signal });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      throw new RetryableFailure(`cannot reach ${new URL(url).host}: ${describeNetworkError(err)}`);
    }
    if (opts.hubChecksums) readHubHeaders(response.headers, meta);
    const s = response.status;
    if (s >= 300 && s < 400 && response.headers.has('location')) {
      await response.body?.cancel();
      url = new URL(response.headers.get('location')!, url).toString();
      continue;
    }
    if (s === 200 || s === 206) return { response, meta };
    await response.body?.cancel();
    if (s === 416) {
      // The partial file is not a prefix of what the server has (as long or longer): start again.
      await rm(partialPath(opts.dest), { force: true });
      throw new RetryableFailure('server refused the resume range (416); restarting from the beginning', s, 0);
    }
    if (s === 404 || s === 410) {
      throw new DownloadError('not-found', opts.url, `${opts.url}: not found (HTTP ${s})`, {
        status: s,
        hint: 'the file is missing on the server, or --hub-url / --github-url points at the wrong place',
      });
    }
    if (s === 401 || s === 403) {
      throw new DownloadError('unauthorized', opts.url, `${opts.url}: access denied (HTTP ${s}): the repository is gated or private`, {
        status: s,
        hint: 'accept the model licence on the hub and set HF_TOKEN to an access token',
      });
    }
    if (s === 429 || s >= 500) throw new RetryableFailure(`HTTP ${s} from ${new URL(url).host}`, s, retryAfterMs(response.headers));
    throw new DownloadError('http', opts.url, `${opts.url}: unexpected HTTP ${s}`, { status: s });
  }
  throw new DownloadError('http', opts.url, `${opts.url}: more than 10 redirects`);
}

function readHubHeaders(h: Headers, meta: RemoteMeta): void {
  const linked = unquoteEtag(h.get('x-linked-etag'));
  if (linked && /^[0-9a-f]{64}$/.test(linked)) meta.sha256 ??= linked;
  const etag = unquoteEtag(h.get('etag'));
  if (!linked && etag && /^[0-9a-f]{40}$/.test(etag)) meta.gitSha1 ??= etag;
  const size = h.get('x-linked-size');
  if (size && /^\d+$/.test(size)) meta.size ??= Number(size);
  const commit = h.get('x-repo-commit');
  if (commit) meta.commit ??= commit;
}

function unquoteEtag(v: string | null): string | undefined {
  if (!v) return undefined;
  return v.replace(/^W\//, '').replace(/^"|"$/g, '').toLowerCase();
}

function parseContentRange(v: string | null): { start: number; total?: number } | undefined {
  const m = v && /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(v.trim());
  if (!m) return undefined;
  return { start: Number(m[1]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

function retryAfterMs(h: Headers): number | undefined {
  const v = h.get('retry-after');
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function describeNetworkError(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const cause = e?.cause?.code ?? e?.cause?.message;
  return cause ? `${e.message} (${cause})` : String(e?.message ?? err);
}

/** Bytes of a partial transfer already on disk; 0 when none was started. */
async function bytesOnDisk(partial: string): Promise<number> {
  return (await regularFileSize(partial)) ?? 0;
}

async function writeAll(fh: FileHandle, chunk: Uint8Array): Promise<void> {
  for (let off = 0; off < chunk.byteLength; ) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off);
    off += bytesWritten;
  }
}
