import type { Command } from 'commander';
import { VirnucproError } from '../../util/errors.js';

/** `virnucpro predict`: not built yet (see the issue list). */
export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('(not yet available)')
    .allowUnknownOption()
    .action(() => {
      throw new VirnucproError('`virnucpro predict` is not implemented yet');
    });
}
