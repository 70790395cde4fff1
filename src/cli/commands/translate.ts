import type { Command } from 'commander';
import { VirnucproError } from '../../util/errors.js';

/** `virnucpro translate`: not built yet (see the issue list). */
export function registerTranslate(program: Command): void {
  program
    .command('translate')
    .description('(not yet available)')
    .allowUnknownOption()
    .action(() => {
      throw new VirnucproError('`virnucpro translate` is not implemented yet');
    });
}
