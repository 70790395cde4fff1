import type { Command } from 'commander';
import { VirnucproError } from '../../util/errors.js';

/** `virnucpro embed`: not built yet (see the issue list). */
export function registerEmbed(program: Command): void {
  program
    .command('embed')
    .description('(not yet available)')
    .allowUnknownOption()
    .action(() => {
      throw new VirnucproError('`virnucpro embed` is not implemented yet');
    });
}
