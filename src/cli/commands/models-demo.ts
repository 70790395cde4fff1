/**
 * `virnucpro models demo [--out DIR] [--cache-dir DIR] [--json]`: writes the
 * tiny random demo models (demo/demo-models.ts), by default into the cache, and
 * prints where they are and the warning that their scores mean nothing.
 * Flag parsing only.
 */
import type { Command } from 'commander';
import { DEMO_WARNING, ensureDemoModels, writeDemoModels } from '../../demo/demo-models.js';

export function registerModelsDemo(models: Command): void {
  models
    .command('demo')
    .description('write tiny RANDOM demo models (ESM-2 .pt, DNABERT-S directory, classifier .pth) to try the pipeline without downloads; their scores mean nothing')
    .option('--out <dir>', 'write the set into this new directory (default: <cache>/demo-models/<version>)')
    .option('--cache-dir <dir>', 'cache directory (default: $VIRNUCPRO_CACHE, else $XDG_CACHE_HOME/virnucpro or ~/.cache/virnucpro)')
    .option('--json', 'print the paths as JSON {dir, esm, dnabert, classifier, warning}')
    .action(async (opts: { out?: string; cacheDir?: string; json?: boolean }) => {
      const demo = opts.out ? await writeDemoModels(opts.out) : await ensureDemoModels(opts.cacheDir);
      if (opts.json) {
        process.stdout.write(JSON.stringify({ ...demo, warning: DEMO_WARNING }, null, 2) + '\n');
        return;
      }
      process.stdout.write(
        [
          DEMO_WARNING,
          `demo models in ${demo.dir}`,
          `  --esm        ${demo.esm}`,
          `  --dnabert    ${demo.dnabert}`,
          `  --classifier ${demo.classifier}`,
          '',
        ].join('\n'),
      );
    });
}
