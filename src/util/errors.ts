/**
 * Error classes shared by every layer. The CLI maps them to exit codes, so a
 * caller deep in a parser only has to pick the right class and say what went
 * wrong, where (file, line, record) and, when possible, how to fix it.
 */

/** Process exit codes, documented in the README. */
export const ExitCode = {
  ok: 0,
  /** An unexpected failure (a bug): please report it. */
  internal: 1,
  /** Bad command line, bad input file, bad model files. */
  badInput: 2,
  /** The run finished but some input was not fully processed. */
  incomplete: 3,
  /** Out of memory, missing execution provider, and other resource limits. */
  resource: 4,
  sigint: 130,
  sigterm: 143,
} as const;

export class VirnucproError extends Error {
  readonly exitCode: number;
  /** Optional one-line advice printed after the message. */
  readonly hint?: string;
  constructor(message: string, options: { exitCode?: number; hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options.exitCode ?? ExitCode.internal;
    this.hint = options.hint;
  }
}

/** Something wrong with a file the user gave us (FASTA, weights, bundle). */
export class InputError extends VirnucproError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { ...options, exitCode: ExitCode.badInput });
  }
}

/** Bad flags or flag combinations. */
export class UsageError extends VirnucproError {
  constructor(message: string, options: { hint?: string } = {}) {
    super(message, { ...options, exitCode: ExitCode.badInput });
  }
}

/** A limit of the machine: memory, a missing execution provider, disk. */
export class ResourceError extends VirnucproError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { ...options, exitCode: ExitCode.resource });
  }
}

/** Formats "file:line: message" the way compilers do, so editors can jump to it. */
export function where(file: string, line?: number): string {
  return line === undefined ? file : `${file}:${line}`;
}
