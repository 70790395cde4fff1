import { test } from 'node:test';
import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { resolveCacheDir, resolveHfHubCache } from '../../src/util/cache-dir.js';

test('cache directory: flag, then VIRNUCPRO_CACHE, then XDG_CACHE_HOME, then ~/.cache', () => {
  const env = { VIRNUCPRO_CACHE: '/env/cache', XDG_CACHE_HOME: '/xdg', HOME: '/home/u' };
  assert.equal(resolveCacheDir('rel/dir', env), resolve('rel/dir'));
  assert.equal(resolveCacheDir(undefined, env), '/env/cache');
  assert.equal(resolveCacheDir(undefined, { XDG_CACHE_HOME: '/xdg', HOME: '/home/u' }), '/xdg/virnucpro');
  assert.equal(resolveCacheDir(undefined, { HOME: '/home/u' }), '/home/u/.cache/virnucpro');
  assert.equal(resolveCacheDir(undefined, {}), join(homedir(), '.cache', 'virnucpro'));
});

test('Hugging Face cache: HF_HUB_CACHE, then HF_HOME/hub, then the user cache folder', () => {
  assert.equal(resolveHfHubCache({ HF_HUB_CACHE: '/a', HF_HOME: '/b' }), '/a');
  assert.equal(resolveHfHubCache({ HUGGINGFACE_HUB_CACHE: '/legacy' }), '/legacy');
  assert.equal(resolveHfHubCache({ HF_HOME: '/b', XDG_CACHE_HOME: '/x' }), '/b/hub');
  assert.equal(resolveHfHubCache({ XDG_CACHE_HOME: '/x' }), '/x/huggingface/hub');
  assert.equal(resolveHfHubCache({ HOME: '/home/u' }), '/home/u/.cache/huggingface/hub');
});
