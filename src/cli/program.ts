/**
 * The `virnucpro` command. This file only wires subcommands together and turns
 * errors into messages and exit codes; each subcommand lives in commands/ and
 * calls into the library.
 */
import { Command, CommanderError } from 'commander';
import { ExitCode, VirnucproError, userErrorFromSystemError } from '../util/errors.js';
import { TOOL_VERSION } from '../util/version.js';
import { registerTranslate } from './commands/translate.js';
import { registerEmbed } from './commands/embed.js';
import { registerPredict } from './commands/predict.js';
import { registerModels } from './commands/models.js';
import { registerDevices } from './commands/devices.js';
import { registerReport } from './commands/report.js';
import { registerWorker } from './commands/worker.js';

export function buildProgram(): Command {
  const program = new Command('virnucpro')
    .description('Identify viral DNA in sequencing data (VirNucPro: DNABERT-S + ESM-2 + MLP) on ONNX Runtime')
    .version(TOOL_VERSION)
    .showHelpAfterError()
    .exitOverride();
  registerTranslate(program);
  registerEmbed(program);
  registerPredict(program);
  registerModels(program);
  registerDevices(program);
  registerReport(program);
  registerWorker(program);
  return program;
}

/** Prints an error the way users should see it and returns the exit code. */
export function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    // commander already printed its message (help, version, usage errors).
    return err.exitCode === 0 ? ExitCode.ok : ExitCode.badInput;
  }
  // A full disk, a read-only or missing directory: the user's to fix, never reported as a bug.
  const fromSystem = userErrorFromSystemError(err);
  if (fromSystem) return reportError(fromSystem);
  if (err instanceof VirnucproError) {
    process.stderr.write(`virnucpro: error: ${err.message}\n`);
    if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
    return err.exitCode;
  }
  // Only errors without an errno code get here: ours that should have been a VirnucproError, or real bugs.
  const e = err as Error;
  process.stderr.write(`virnucpro: internal error: ${e?.stack ?? String(err)}\n`);
  process.stderr.write('This is a bug; please report it with the command line you ran.\n');
  return ExitCode.internal;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (err) {
    return reportError(err);
  }
}
