import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { fixture, tempDir } from '../helpers.js';
import { fetchModels, type FetchOptions } from '../../src/hub/fetch.js';
import { DownloadError, downloadFile, partialPath } from '../../src/hub/download.js';
import { readModelRecord, modelDir } from '../../src/hub/cache.js';
import { KNOWN_MODELS, type KnownModel, type ModelId } from '../../src/hub/registry.js';
import { ResourceError, ExitCode } from '../../src/util/errors.js';
import { HUB_COMMIT, gitBlobSha1, fixtureHubForFile, sha256 } from './fetch-hub-server.js';

const hub = fixtureHubForFile();

/** One temporary root for the whole file (tempDir registers an exit hook per call). */
const root = tempDir();
const freshDir = () => mkdtempSync(join(root, 'd-'));

const FAST_RETRY = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 };

/** The registry with the classifier checksums of the fixture files served in place of the real `.pth`. */
const fixtureRegistry: Record<ModelId, KnownModel> = (() => {
  const r = structuredClone(KNOWN_MODELS) as Record<ModelId, KnownModel>;
  const pin = (id: ModelId, file: string, rel: string) => {
    r[id] = { ...r[id], files: [{ ...r[id].files[0]!, known: { [file]: { gitSha1: gitBlobSha1(readFileSync(fixture(rel))) } } }] };
  };
  pin('classifier-300', '300_model.pth', 'mlp/mlp_state_dict.pth');
  pin('classifier-500', '500_model.pth', 'mlp/mlp_full_module.pth');
  return r;
})();

function options(cacheDir: string, extra: Partial<FetchOptions> = {}): FetchOptions {
  return {
    models: [],
    cacheDir,
    urls: { hubUrl: hub.url, githubRawUrl: hub.url },
    retry: FAST_RETRY,
    registry: fixtureRegistry,
    ...extra,
  };
}

const same = (a: string, rel: string) => assert.deepEqual(readFileSync(a), readFileSync(fixture(rel)));

test('fetches every model, verifies hub and registry checksums and records them', async () => {
  const cache = freshDir();
  const notes: string[] = [];
  const got = await fetchModels(
    options(cache, { models: ['esm2-3b', 'dnabert-s', 'classifier-300', 'classifier-500'], events: { note: (m) => notes.push(m) } }),
  );
  assert.deepEqual(
    got.map((m) => [m.id, m.files.map((f) => `${f.name}:${f.how}`)]),
    [
      ['esm2-3b', ['config.json:downloaded', 'vocab.txt:downloaded', 'model.safetensors:downloaded']],
      ['dnabert-s', ['config.json:downloaded', 'tokenizer.json:downloaded', 'pytorch_model.bin:downloaded']],
      ['classifier-300', ['300_model.pth:downloaded']],
      ['classifier-500', ['500_model.pth:downloaded']],
    ],
  );
  const esm = modelDir(cache, 'esm2-3b');
  same(join(esm, 'model.safetensors'), 'esm2/hf/model.safetensors');
  same(join(esm, 'config.json'), 'esm2/hf/config.json');
  same(join(modelDir(cache, 'dnabert-s'), 'pytorch_model.bin'), 'dnabert-s/model/pytorch_model.bin');
  same(join(modelDir(cache, 'classifier-500'), '500_model.pth'), 'mlp/mlp_full_module.pth');
  assert.ok(notes.some((n) => n.includes('model.safetensors is not on the server')), notes.join('\n'));
  assert.ok(!readdirSync(esm).some((n) => n.endsWith('.partial')));

  const rec = (await readModelRecord(esm))!;
  const weights = rec.files['model.safetensors']!;
  assert.equal(weights.sha256, sha256(readFileSync(fixture('esm2/hf/model.safetensors'))));
  assert.equal(weights.checksum, 'verified'); // against X-Linked-Etag
  assert.equal(weights.commit, HUB_COMMIT);
  assert.equal(rec.files['config.json']!.checksum, 'verified'); // against the git-blob ETag
  const cls = (await readModelRecord(modelDir(cache, 'classifier-300')))!.files['300_model.pth']!;
  assert.equal(cls.checksum, 'verified');
  assert.equal(cls.gitSha1, fixtureRegistry['classifier-300'].files[0]!.known!['300_model.pth']!.gitSha1);

  // A second fetch finds everything cached and makes no request.
  const before = hub.requests.length;
  const again = await fetchModels(options(cache, { models: ['esm2-3b', 'classifier-300'] }));
  assert.equal(hub.requests.length, before);
  assert.ok(again.every((m) => m.files.every((f) => f.how === 'cached')));
});

test('a connection dropped mid-body is resumed with a Range request', async () => {
  const cache = freshDir();
  const key = 'facebook/esm2_t36_3B_UR50D/model.safetensors';
  hub.plan(key, { kind: 'drop', bytes: 40_000 });
  const retries: string[] = [];
  const starts: number[] = [];
  await fetchModels(
    options(cache, {
      models: ['esm2-3b'],
      events: { download: () => ({ retry: (r) => retries.push(r.reason), start: (s) => starts.push(s.resumedFrom) }) },
    }),
  );
  same(join(modelDir(cache, 'esm2-3b'), 'model.safetensors'), 'esm2/hf/model.safetensors');
  const reqs = hub.contentRequests(key).slice(-2);
  assert.equal(reqs[0]!.range, undefined);
  assert.equal(reqs[1]!.range, 'bytes=40000-');
  assert.equal(retries.length, 1);
  assert.match(retries[0]!, /connection lost after 40000 bytes/);
  assert.deepEqual(starts.slice(-2), [0, 40000]);
});

test('a partial file left by a killed process is resumed, and a server that ignores Range restarts cleanly', async () => {
  const body = readFileSync(fixture('dnabert-s/model/pytorch_model.bin'));
  const key = 'zhihan1996/DNABERT-S/pytorch_model.bin';
  const dest = join(freshDir(), 'pytorch_model.bin');
  const url = `${hub.url}/zhihan1996/DNABERT-S/resolve/main/pytorch_model.bin`;

  writeFileSync(partialPath(dest), body.subarray(0, 100_000));
  const resumed = await downloadFile({ url, dest, hubChecksums: true, retry: FAST_RETRY });
  assert.equal(resumed.resumedFrom, 100_000);
  assert.equal(resumed.verifiedWith, 'sha256');
  assert.deepEqual(readFileSync(dest), body);
  assert.equal(hub.contentRequests(key).at(-1)!.range, 'bytes=100000-');

  const dest2 = join(freshDir(), 'pytorch_model.bin');
  writeFileSync(partialPath(dest2), body.subarray(0, 100_000));
  hub.plan(key, { kind: 'ignore-range' });
  const restarted = await downloadFile({ url, dest: dest2, hubChecksums: true, retry: FAST_RETRY });
  assert.equal(restarted.resumedFrom, 0);
  assert.deepEqual(readFileSync(dest2), body);
  assert.ok(!existsSync(partialPath(dest2)));
});

test('a stale partial from another version of the file is discarded after the checksum fails, once', async () => {
  const body = readFileSync(fixture('dnabert-s/model/pytorch_model.bin'));
  const dest = join(freshDir(), 'pytorch_model.bin');
  writeFileSync(partialPath(dest), Buffer.alloc(5000, 7));
  const r = await downloadFile({ url: `${hub.url}/zhihan1996/DNABERT-S/resolve/main/pytorch_model.bin`, dest, hubChecksums: true, retry: FAST_RETRY });
  assert.equal(r.resumedFrom, 0);
  assert.deepEqual(readFileSync(dest), body);
});

test('a wrong checksum deletes the partial file and fails with a clear error', async () => {
  const cache = freshDir();
  hub.plan('zhihan1996/DNABERT-S/tokenizer.json', { kind: 'corrupt' });
  const err = await fetchModels(options(cache, { models: ['dnabert-s'] })).then(
    () => assert.fail('expected a checksum error'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof DownloadError);
  assert.equal(err.failure, 'checksum');
  assert.equal(err.exitCode, ExitCode.resource);
  assert.match(err.message, /tokenizer\.json: downloaded file does not match its checksum \(git blob id [0-9a-f]{40}, expected [0-9a-f]{40}\)/);
  const dir = modelDir(cache, 'dnabert-s');
  assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('tokenizer')), []);
  // Files fetched before the failure stay, recorded.
  assert.ok(existsSync(join(dir, 'config.json')));
  assert.ok((await readModelRecord(dir))!.files['config.json']);
});

test('the real registry pins the original .pth checksums: a different file is refused', async () => {
  const cache = freshDir();
  const err = await fetchModels(options(cache, { models: ['classifier-300'], registry: KNOWN_MODELS })).catch((e: unknown) => e);
  assert.ok(err instanceof DownloadError && err.failure === 'checksum', String(err));
  assert.match(err.message, /expected a0b5b85e7c1e44f00cde146d091beb82b2c8e855/);
  assert.ok(!existsSync(join(modelDir(cache, 'classifier-300'), '300_model.pth')));
});

test('HTTP 500 is retried with backoff, then the download succeeds', async () => {
  const cache = freshDir();
  const key = 'Li-Jing-1997/VirNucPro/500_model.pth';
  hub.plan(key, { kind: 'status', status: 500 }, { kind: 'status', status: 503 });
  const delays: number[] = [];
  await fetchModels(options(cache, { models: ['classifier-500'], events: { download: () => ({ retry: (r) => delays.push(r.attempt) }) } }));
  assert.deepEqual(delays, [1, 2]);
  assert.equal(hub.contentRequests(key).length >= 3, true);
  same(join(modelDir(cache, 'classifier-500'), '500_model.pth'), 'mlp/mlp_full_module.pth');
});

test('retries are bounded: persistent 5xx gives up and keeps the partial for next time', async () => {
  const cache = freshDir();
  const key = 'Li-Jing-1997/VirNucPro/300_model.pth';
  hub.plan(key, { kind: 'drop', bytes: 1000 }, { kind: 'status', status: 502 }, { kind: 'status', status: 502 }, { kind: 'status', status: 502 });
  const err = await fetchModels(options(cache, { models: ['classifier-300'] })).catch((e: unknown) => e);
  assert.ok(err instanceof DownloadError && err.failure === 'network', String(err));
  assert.match(err.message, /giving up after 3 failed attempts in a row: HTTP 502/);
  assert.match(err.hint!, /1000 bytes received so far are kept/);
  assert.equal(readFileSync(join(modelDir(cache, 'classifier-300'), '300_model.pth.partial')).byteLength, 1000);
  assert.ok(!existsSync(join(modelDir(cache, 'classifier-300'), '300_model.pth')));
  // The next run resumes.
  await fetchModels(options(cache, { models: ['classifier-300'] }));
  assert.equal(hub.contentRequests(key).at(-1)!.range, 'bytes=1000-');
  same(join(modelDir(cache, 'classifier-300'), '300_model.pth'), 'mlp/mlp_state_dict.pth');
});

test('404 and 401 are not retried and say what is wrong', async () => {
  const cache = freshDir();
  const missing = { ...fixtureRegistry, 'dnabert-s': { ...fixtureRegistry['dnabert-s'], source: { kind: 'huggingface' as const, repo: 'nobody/nothing', revision: 'main' } } };
  const n = hub.requests.length;
  const e404 = await fetchModels(options(cache, { models: ['dnabert-s'], registry: missing })).catch((e: unknown) => e);
  assert.ok(e404 instanceof DownloadError && e404.failure === 'not-found', String(e404));
  assert.match(e404.message, /nobody\/nothing\/resolve\/main\/config\.json: not found \(HTTP 404\)/);
  assert.equal(hub.requests.length, n + 1);

  hub.plan('zhihan1996/DNABERT-S/config.json', { kind: 'status', status: 401 });
  const m = hub.requests.length;
  const e401 = await fetchModels(options(freshDir(), { models: ['dnabert-s'], hfToken: 'hf_secret' })).catch((e: unknown) => e);
  assert.ok(e401 instanceof DownloadError && e401.failure === 'unauthorized', String(e401));
  assert.match(e401.message, /gated or private/);
  assert.match(e401.hint!, /HF_TOKEN/);
  assert.equal(hub.requests.length, m + 1);
  assert.equal(hub.requests.at(-1)!.authorization, 'Bearer hf_secret');
});

test('offline mode uses the cache and lists everything that is missing', async () => {
  const cache = freshDir();
  const n = hub.requests.length;
  const err = await fetchModels(options(cache, { models: ['esm2-3b', 'classifier-300'], offline: true })).catch((e: unknown) => e);
  assert.equal(hub.requests.length, n);
  assert.ok(err instanceof ResourceError, String(err));
  assert.equal(err.exitCode, ExitCode.resource);
  assert.match(err.message, /offline mode: 4 file\(s\) are not cached/);
  assert.match(err.message, /esm2-3b: model\.safetensors or pytorch_model\.bin \(weights, from facebook\/esm2_t36_3B_UR50D\)/);
  assert.match(err.message, /classifier-300: 300_model\.pth/);
  assert.match(err.hint!, /virnucpro models fetch esm2-3b classifier-300/);

  await fetchModels(options(cache, { models: ['classifier-300'] }));
  const m = hub.requests.length;
  const got = await fetchModels(options(cache, { models: ['classifier-300'], offline: true }));
  assert.equal(hub.requests.length, m);
  assert.equal(got[0]!.files[0]!.how, 'cached');
});

test('files already in a Hugging Face hub cache are linked, not downloaded or copied', async () => {
  const hfCache = freshDir();
  const repoDir = join(hfCache, 'models--zhihan1996--DNABERT-S');
  const snap = join(repoDir, 'snapshots', HUB_COMMIT);
  mkdirSync(join(repoDir, 'blobs'), { recursive: true });
  mkdirSync(join(repoDir, 'refs'), { recursive: true });
  mkdirSync(snap, { recursive: true });
  writeFileSync(join(repoDir, 'refs', 'main'), HUB_COMMIT);
  for (const [name, rel, lfs] of [
    ['config.json', 'dnabert-s/model/config.json', false],
    ['tokenizer.json', 'dnabert-s/model/tokenizer.json', false],
    ['model.safetensors', 'dnabert-s/model/model.safetensors', true],
  ] as const) {
    const body = readFileSync(fixture(rel));
    const blob = lfs ? sha256(body) : gitBlobSha1(body);
    writeFileSync(join(repoDir, 'blobs', blob), body);
    symlinkSync(`../../blobs/${blob}`, join(snap, name));
  }
  const cache = freshDir();
  const n = hub.requests.length;
  const got = await fetchModels(options(cache, { models: ['dnabert-s'], hfHubCache: hfCache, offline: true }));
  assert.equal(hub.requests.length, n);
  assert.deepEqual(got[0]!.files.map((f) => `${f.name}:${f.how}`), ['config.json:hf-cache', 'tokenizer.json:hf-cache', 'model.safetensors:hf-cache']);
  const dir = modelDir(cache, 'dnabert-s');
  const weights = join(dir, 'model.safetensors');
  assert.ok(lstatSync(weights).isSymbolicLink());
  assert.equal(readlinkSync(weights), join(snap, 'model.safetensors'));
  same(weights, 'dnabert-s/model/model.safetensors');
  const rec = (await readModelRecord(dir))!;
  assert.equal(rec.files['model.safetensors']!.sha256, sha256(readFileSync(fixture('dnabert-s/model/model.safetensors'))));
  assert.equal(rec.files['model.safetensors']!.checksum, 'hf-cache');
  assert.equal(rec.files['config.json']!.checksum, 'verified'); // small: hashed and checked against its blob name
  assert.equal(rec.files['config.json']!.commit, HUB_COMMIT);

  // --verify re-hashes the linked weights and upgrades the record.
  await fetchModels(options(cache, { models: ['dnabert-s'], hfHubCache: hfCache, offline: true, verify: true }));
  assert.equal((await readModelRecord(dir))!.files['model.safetensors']!.checksum, 'verified');
});

test('--verify fetches again a cached file that no longer matches its record', async () => {
  const cache = freshDir();
  await fetchModels(options(cache, { models: ['classifier-500'] }));
  const path = join(modelDir(cache, 'classifier-500'), '500_model.pth');
  const bytes = readFileSync(path);
  bytes[10] ^= 1;
  writeFileSync(path, bytes);
  const notes: string[] = [];
  const got = await fetchModels(options(cache, { models: ['classifier-500'], verify: true, events: { note: (m) => notes.push(m) } }));
  assert.equal(got[0]!.files[0]!.how, 'downloaded');
  assert.match(notes.join('\n'), /git blob id|sha256 .* differs/);
  same(path, 'mlp/mlp_full_module.pth');
});

test('a download in progress elsewhere is not joined; a lock left by a dead process is taken over', async () => {
  const dir = freshDir();
  const dest = join(dir, 'pytorch_model.bin');
  const url = `${hub.url}/zhihan1996/DNABERT-S/resolve/main/pytorch_model.bin`;
  // The test runner's parent process is alive: its lock must be respected.
  writeFileSync(`${dest}.lock`, JSON.stringify({ host: hostname(), pid: process.ppid, since: 'earlier' }));
  const err = await downloadFile({ url, dest, hubChecksums: true, retry: FAST_RETRY }).catch((e: unknown) => e);
  assert.ok(err instanceof ResourceError, String(err));
  assert.match(err.message, new RegExp(`being downloaded by another virnucpro \\(pid ${process.ppid} on ${hostname()}, since earlier\\)`));
  assert.ok(!existsSync(dest));

  // A pid that cannot be running (above the kernel's pid_max) is a stale lock.
  writeFileSync(`${dest}.lock`, JSON.stringify({ host: hostname(), pid: 2 ** 30, since: 'earlier' }));
  await downloadFile({ url, dest, hubChecksums: true, retry: FAST_RETRY });
  assert.deepEqual(readFileSync(dest), readFileSync(fixture('dnabert-s/model/pytorch_model.bin')));
  assert.ok(!existsSync(`${dest}.lock`));
});
