import type { Command } from 'commander';
import { VirnucproError } from '../../util/errors.js';

/** `virnucpro devices`: not built yet (see the issue list). */
export function registerDevices(program: Command): void {
  program
    .command('devices')
    .description('(not yet available)')
    .allowUnknownOption()
    .action(() => {
      throw new VirnucproError('`virnucpro devices` is not implemented yet');
    });
}
