import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, repoRoot, tempDir } from '../helpers.js';
import { fixtureHubForFile, sha256 } from '../hub/fetch-hub-server.js';

const hub = fixtureHubForFile();

const root = tempDir();
const freshDir = () => mkdtempSync(join(root, 'd-'));
const ENTRY = join(repoRoot, 'src/cli/main.ts');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in a child process (asynchronously, so this process's server keeps answering). */
function virnucpro(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const base: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: freshDir(), HF_HUB_CACHE: freshDir() };
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', ENTRY, ...args], { cwd: repoRoot, env: { ...base, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('models fetch downloads into --cache-dir from HF_ENDPOINT, then models list shows sizes and checksums', async () => {
  const cache = freshDir();
  const r = await virnucpro(['models', 'fetch', 'esm2-3b', 'dnabert-s', '--cache-dir', cache], { HF_ENDPOINT: hub.url });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    `esm2-3b\t${join(cache, 'models', 'esm2-3b')}\t(use with --esm)\ndnabert-s\t${join(cache, 'models', 'dnabert-s')}\t(use with --dnabert)\n`,
  );
  // Not a terminal: plain lines, no bar drawing.
  assert.match(r.stderr, /esm2-3b\/model\.safetensors: downloading http:\/\/127\.0\.0\.1:\d+\/facebook\/esm2_t36_3B_UR50D\/resolve\/main\/model\.safetensors \(115\.3 kB\)/);
  assert.match(r.stderr, /dnabert-s: model\.safetensors is not on the server; trying pytorch_model\.bin/);
  assert.match(r.stderr, /esm2-3b\/model\.safetensors: downloaded and verified/);
  assert.doesNotMatch(r.stderr, /\u001b\[/);
  assert.deepEqual(readFileSync(join(cache, 'models', 'esm2-3b', 'model.safetensors')), readFileSync(fixture('esm2/hf/model.safetensors')));

  const list = await virnucpro(['models', 'list', '--json'], { VIRNUCPRO_CACHE: cache });
  assert.equal(list.code, 0, list.stderr);
  const listing = JSON.parse(list.stdout) as { cacheDir: string; models: { id: string; complete: boolean; files: { name: string; size: number; sha256?: string }[] }[] };
  assert.equal(listing.cacheDir, cache);
  assert.deepEqual(listing.models.map((m) => [m.id, m.complete]), [['dnabert-s', true], ['esm2-3b', true]]);
  const weights = listing.models[1]!.files.find((f) => f.name === 'model.safetensors')!;
  const expected = readFileSync(fixture('esm2/hf/model.safetensors'));
  assert.deepEqual([weights.size, weights.sha256], [expected.byteLength, sha256(expected)]);

  const human = await virnucpro(['models', 'list', '--cache-dir', cache]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, new RegExp(`model\\.safetensors +115\\.3 kB  sha256:${sha256(expected)} \\(verified\\)`));
  assert.match(human.stdout, /^esm2-3b  .* complete  \(facebook\/esm2_t36_3B_UR50D\)$/m);

  // Everything cached: offline works and touches nothing.
  const n = hub.requests.length;
  const offline = await virnucpro(['models', 'fetch', 'esm2-3b', '--offline', '--cache-dir', cache]);
  assert.equal(offline.code, 0, offline.stderr);
  assert.match(offline.stderr, /esm2-3b\/model\.safetensors: already cached/);
  assert.equal(hub.requests.length, n);
});

test('offline with nothing cached exits 4 listing what is missing', async () => {
  const r = await virnucpro(['models', 'fetch', 'classifier-500', 'dnabert-s'], { VIRNUCPRO_CACHE: freshDir(), HF_HUB_OFFLINE: '1' });
  assert.equal(r.code, 4);
  assert.match(r.stderr, /virnucpro: error: offline mode: 4 file\(s\) are not cached:\n  classifier-500: 500_model\.pth/);
  assert.match(r.stderr, /hint: run `virnucpro models fetch classifier-500 dnabert-s` where the network allows/);
});

test('a classifier that does not match the pinned checksum exits 4 and leaves no file', async () => {
  const cache = freshDir();
  const r = await virnucpro(['models', 'fetch', 'classifier-300', '--cache-dir', cache], { VIRNUCPRO_GITHUB_RAW_URL: hub.url });
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /300_model\.pth: downloaded file does not match its checksum \(git blob id [0-9a-f]{40}, expected a0b5b85e/);
  assert.ok(!existsSync(join(cache, 'models', 'classifier-300', '300_model.pth')));
  assert.ok(!existsSync(join(cache, 'models', 'classifier-300', '300_model.pth.partial')));
});

test('bad arguments exit 2', async () => {
  const r = await virnucpro(['models', 'fetch', 'esm2-650m', '--offline']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown model "esm2-650m"/);
  assert.match(r.stderr, /choose from esm2-3b, dnabert-s, classifier-300, classifier-500 or all/);
  const retries = await virnucpro(['models', 'fetch', '--retries', '0']);
  assert.equal(retries.code, 2);
});
