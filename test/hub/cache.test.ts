import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers.js';
import { findInHfCache, listCache, modelDir, writeModelRecord } from '../../src/hub/cache.js';

const root = tempDir();
const freshDir = () => mkdtempSync(join(root, 'd-'));

test('findInHfCache follows refs/ for branches, takes commit hashes directly, and ignores dangling links', async () => {
  const hub = freshDir();
  const commit = 'a'.repeat(40);
  const repo = join(hub, 'models--org--name');
  mkdirSync(join(repo, 'refs'), { recursive: true });
  mkdirSync(join(repo, 'blobs'));
  mkdirSync(join(repo, 'snapshots', commit), { recursive: true });
  writeFileSync(join(repo, 'refs', 'main'), `${commit}\n`);
  const blob = 'b'.repeat(64);
  writeFileSync(join(repo, 'blobs', blob), 'weights');
  symlinkSync(`../../blobs/${blob}`, join(repo, 'snapshots', commit, 'model.safetensors'));
  symlinkSync(`../../blobs/${'c'.repeat(40)}`, join(repo, 'snapshots', commit, 'config.json'));
  writeFileSync(join(repo, 'snapshots', commit, 'plain.txt'), 'copied, not linked');

  assert.deepEqual(await findInHfCache(hub, 'org/name', 'model.safetensors'), {
    path: join(repo, 'snapshots', commit, 'model.safetensors'),
    commit,
    blobEtag: blob,
    size: 7,
  });
  assert.equal((await findInHfCache(hub, 'org/name', 'model.safetensors', commit))?.commit, commit);
  assert.equal((await findInHfCache(hub, 'org/name', 'plain.txt'))?.blobEtag, undefined);
  assert.equal(await findInHfCache(hub, 'org/name', 'config.json'), undefined);
  assert.equal(await findInHfCache(hub, 'org/name', 'model.safetensors', 'v2'), undefined);
  assert.equal(await findInHfCache(hub, 'org/other', 'model.safetensors'), undefined);
});

test('listCache reports models with sizes, checksums, partial and missing files, and prepared bundles', async () => {
  const cache = freshDir();
  const cls = modelDir(cache, 'classifier-300');
  mkdirSync(cls, { recursive: true });
  writeFileSync(join(cls, '300_model.pth'), Buffer.alloc(1234));
  await writeModelRecord(cls, {
    model: 'classifier-300',
    repo: 'Li-Jing-1997/VirNucPro',
    revision: 'x',
    files: { '300_model.pth': { size: 1234, sha256: 'f'.repeat(64), checksum: 'computed', origin: 'download', from: 'http://x', at: 'now' } },
  });
  const esm = modelDir(cache, 'esm2-3b');
  mkdirSync(esm, { recursive: true });
  writeFileSync(join(esm, 'config.json'), '{}');
  writeFileSync(join(esm, 'model.safetensors.partial'), Buffer.alloc(10));
  writeFileSync(join(esm, 'model.safetensors.lock'), '{}');
  symlinkSync('/nonexistent/vocab.txt', join(esm, 'vocab.txt'));
  mkdirSync(modelDir(cache, 'my-own-model'), { recursive: true });
  writeFileSync(join(modelDir(cache, 'my-own-model'), 'w.bin'), 'abc');

  const b = join(cache, 'bundles', 'virnucpro-fp16');
  mkdirSync(join(b, 'graphs'), { recursive: true });
  writeFileSync(join(b, 'manifest.json'), JSON.stringify({ format: 'virnucpro-bundle', precision: 'fp16', tool: { name: 'virnucpro', version: '0.1.0' }, models: { esm2: {}, 'dnabert-s': {} } }));
  writeFileSync(join(b, 'graphs', 'esm.onnx'), Buffer.alloc(100));
  mkdirSync(join(cache, 'bundles', 'broken'));
  writeFileSync(join(cache, 'bundles', 'broken', 'manifest.json'), '{oops');
  mkdirSync(join(cache, 'bundles', 'not-a-bundle'));

  const listing = await listCache(cache);
  assert.equal(listing.cacheDir, cache);
  assert.deepEqual(
    listing.models.map((m) => [m.id, m.known, m.complete, m.size]),
    [
      ['classifier-300', true, true, 1234],
      ['esm2-3b', true, false, 2],
      ['my-own-model', false, true, 3],
    ],
  );
  const c = listing.models[0]!.files[0]!;
  assert.deepEqual([c.name, c.status, c.size, c.sha256, c.checksum], ['300_model.pth', 'ok', 1234, 'f'.repeat(64), 'computed']);
  assert.equal(listing.models[0]!.repo, 'Li-Jing-1997/VirNucPro');
  assert.deepEqual(
    listing.models[1]!.files.map((f) => [f.name, f.status, f.size]),
    [
      ['config.json', 'ok', 2],
      ['model.safetensors.partial', 'partial', 10],
      ['vocab.txt', 'missing', 0],
    ],
  );
  assert.equal(listing.models[1]!.files[2]!.linkedTo, '/nonexistent/vocab.txt');
  assert.equal(listing.bundles.length, 2);
  const [broken, fp16] = listing.bundles;
  assert.match(broken!.error!, /not valid JSON/);
  assert.deepEqual([fp16!.name, fp16!.precision, fp16!.toolVersion, fp16!.contains], ['virnucpro-fp16', 'fp16', '0.1.0', ['esm2', 'dnabert-s']]);
  assert.ok(fp16!.size > 100);
});

test('listCache of a cache that does not exist yet is empty', async () => {
  const dir = join(freshDir(), 'none');
  assert.deepEqual(await listCache(dir), { cacheDir: dir, models: [], bundles: [] });
});
