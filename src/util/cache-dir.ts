/**
 * Where caches live on this machine: virnucpro's own (fetched models, prepared
 * bundles, the graph cache, demo models, verification memos) and the Hugging
 * Face hub's, whose files `models fetch` reuses. Shared by every layer that
 * keeps something in the cache, so it sits in util rather than with any one of them.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

type Env = Readonly<Record<string, string | undefined>>;

/** `--cache-dir`, else VIRNUCPRO_CACHE, else `$XDG_CACHE_HOME/virnucpro`, else `~/.cache/virnucpro`. */
export function resolveCacheDir(flag: string | undefined, env: Env = process.env): string {
  if (flag) return resolve(flag);
  if (env.VIRNUCPRO_CACHE) return resolve(env.VIRNUCPRO_CACHE);
  return join(userCacheHome(env), 'virnucpro');
}

/** The Hugging Face hub cache, found the way huggingface_hub finds it. */
export function resolveHfHubCache(env: Env = process.env): string {
  if (env.HF_HUB_CACHE) return resolve(env.HF_HUB_CACHE);
  if (env.HUGGINGFACE_HUB_CACHE) return resolve(env.HUGGINGFACE_HUB_CACHE);
  if (env.HF_HOME) return join(resolve(env.HF_HOME), 'hub');
  return join(userCacheHome(env), 'huggingface', 'hub');
}

function userCacheHome(env: Env): string {
  return env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(env.HOME || homedir(), '.cache');
}
