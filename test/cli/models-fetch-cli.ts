/**
 * Runs the `models fetch` / `models list` subcommands the way `virnucpro`
 * does (same error reporting and exit codes), for the CLI tests.
 */
import { Command } from 'commander';
import { reportError } from '../../src/cli/program.js';
import { registerModelsFetch } from '../../src/cli/commands/models-fetch.js';
import { registerModelsList } from '../../src/cli/commands/models-list.js';

const program = new Command('virnucpro').exitOverride();
const models = program.command('models');
registerModelsFetch(models);
registerModelsList(models);
program.parseAsync(process.argv.slice(2), { from: 'user' }).then(
  () => undefined,
  (err: unknown) => {
    process.exitCode = reportError(err);
  },
);
