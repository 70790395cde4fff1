import type { Command } from 'commander';
import { listCache, type CacheListing } from '../../hub/cache.js';
import { resolveCacheDir } from '../../util/cache-dir.js';
import { formatBytes } from '../../util/progress.js';

/** `virnucpro models list [--cache-dir DIR] [--json]`: what the cache holds. */
export function registerModelsList(models: Command): void {
  models
    .command('list')
    .description('show the models and prepared bundles in the cache, with sizes and checksums')
    .option('--cache-dir <dir>', 'cache directory (default: $VIRNUCPRO_CACHE, else $XDG_CACHE_HOME/virnucpro or ~/.cache/virnucpro)')
    .option('--json', 'print the listing as JSON')
    .action(async (opts: { cacheDir?: string; json?: boolean }) => {
      const listing = await listCache(resolveCacheDir(opts.cacheDir));
      process.stdout.write(opts.json ? JSON.stringify(listing, null, 2) + '\n' : renderListing(listing));
    });
}

/** The human-readable listing: one block per model and one line per bundle. */
export function renderListing(l: CacheListing): string {
  const out: string[] = [`cache: ${l.cacheDir}`];
  if (l.models.length === 0 && l.bundles.length === 0) {
    out.push('(empty: `virnucpro models fetch` downloads the models here)');
    return out.join('\n') + '\n';
  }
  for (const m of l.models) {
    const state = m.complete ? 'complete' : 'incomplete';
    out.push('', `${m.id}  ${formatBytes(m.size)}  ${state}${m.repo ? `  (${m.repo})` : ''}${m.known ? '' : '  [not a known model]'}`, `  ${m.dir}`);
    for (const f of m.files) {
      const sum = f.sha256 ? `sha256:${f.sha256}` : f.gitSha1 ? `git:${f.gitSha1}` : 'checksum unknown';
      const how = [f.checksum, f.origin === 'hf-cache' ? `linked to ${f.linkedTo ?? 'the HF cache'}` : undefined].filter(Boolean).join(', ');
      const status = f.status === 'ok' ? '' : `  [${f.status === 'partial' ? 'partial download: `models fetch` resumes it' : 'missing'}]`;
      out.push(`  ${f.name.padEnd(24)} ${formatBytes(f.size).padStart(10)}  ${f.status === 'partial' ? '' : sum}${how ? ` (${how})` : ''}${status}`);
    }
  }
  if (l.bundles.length > 0) {
    out.push('', 'bundles:');
    for (const b of l.bundles) {
      const what =
        b.error ??
        [b.precision ?? 'precision unknown', b.contains?.length ? b.contains.join(' + ') : undefined, b.toolVersion ? `made by virnucpro ${b.toolVersion}` : undefined]
          .filter(Boolean)
          .join(', ');
      out.push(`  ${b.name.padEnd(24)} ${formatBytes(b.size).padStart(10)}  ${what}`, `    ${b.dir}`);
    }
  }
  return out.join('\n') + '\n';
}
