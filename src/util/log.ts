/**
 * A command's log: lines to stderr (with `quiet`, only those that name an error
 * or a warning) and, when a file is given, every line appended there with a
 * timestamp.
 */
import { appendFileSync } from 'node:fs';
import { userErrorFromSystemError } from './errors.js';

export type Log = (line: string) => void;

export interface LogOptions {
  /** Show only warnings and errors on stderr. */
  quiet?: boolean;
  /** Also append every line to this file. */
  file?: string;
  /** How messages name the file (e.g. the flag that gave it). */
  fileLabel?: string;
}

const ALWAYS_SHOWN = /error|warning/i;

/**
 * Opens the log. A file that cannot be appended to is refused now (exit code 2 or 4, naming it),
 * rather than at the first log line, deep in a run.
 */
export function openLog(options: LogOptions = {}): Log {
  const { quiet, file } = options;
  if (file !== undefined) {
    try {
      appendFileSync(file, '');
    } catch (e) {
      throw userErrorFromSystemError(e, { what: options.fileLabel }) ?? e;
    }
  }
  return (line: string): void => {
    if (!quiet || ALWAYS_SHOWN.test(line)) process.stderr.write(`${line}\n`);
    if (file !== undefined) appendFileSync(file, `${new Date().toISOString()} ${line}\n`);
  };
}
