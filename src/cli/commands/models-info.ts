/** `virnucpro models info BUNDLE [--verify]`: checks a bundle and prints its manifest. */
import type { Command } from 'commander';
import { openBundle } from '../../models/bundle.js';

export function registerModelsInfo(models: Command): void {
  models
    .command('info')
    .description('check a prepared bundle against its manifest and print the manifest')
    .argument('<bundle>', 'bundle directory (from `virnucpro models prepare`)')
    .option('--verify', 'also check the sha256 of the weight files (reads every byte)')
    .action(async (dir: string, opts: { verify?: boolean }) => {
      const bundle = await openBundle(dir, { verify: opts.verify ? 'full' : 'sizes' });
      process.stdout.write(`${JSON.stringify(bundle.manifest, null, 2)}\n`);
    });
}
