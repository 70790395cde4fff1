import type { Command } from 'commander';
import { VirnucproError } from '../../util/errors.js';

/** `virnucpro models`: not built yet (see the issue list). */
export function registerModels(program: Command): void {
  program
    .command('models')
    .description('(not yet available)')
    .allowUnknownOption()
    .action(() => {
      throw new VirnucproError('`virnucpro models` is not implemented yet');
    });
}
