/**
 * Error classes shared by every layer. The CLI maps them to exit codes, so a
 * caller deep in a parser only has to pick the right class and say what went
 * wrong, where (file, line, record) and, when possible, how to fix it.
 */
import { dirname } from 'node:path';

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

/**
 * An error from the operating system (fs, child_process): Node gives those an errno
 * code and the failing syscall. Our own errors and real bugs (TypeError, ERR_* codes
 * of Node's argument checks) have neither.
 */
export function isSystemError(err: unknown): err is NodeJS.ErrnoException & { code: string; syscall: string } {
  const e = err as NodeJS.ErrnoException | null;
  return e instanceof Error && typeof e.code === 'string' && /^E[A-Z0-9]+$/.test(e.code) && typeof e.syscall === 'string';
}

/**
 * Turns an operating-system error into the message and exit code a user should see,
 * so that a full disk or a read-only directory is never reported as a bug. `what`
 * names the path's role ("--log-file"); `dir` names where a write without a path
 * (a write on an open file, which Node reports without one) was going. Returns null
 * for anything that is not a system error.
 */
export function userErrorFromSystemError(err: unknown, context: { what?: string; dir?: string } = {}): VirnucproError | null {
  if (err instanceof VirnucproError || !isSystemError(err)) return null;
  // Node's wording is "CODE: description, syscall 'path'": keep the description.
  const description = /^E[A-Z0-9]+: ([^,]+)/.exec(err.message)?.[1] ?? err.code;
  const options = { cause: err };
  const path = err.path ?? (context.dir ? `a file in ${context.dir}` : FILE_SYSCALLS.test(err.syscall) ? 'a file' : undefined);
  if (path === undefined) return new ResourceError(`${err.syscall} failed: ${description} (${err.code})`, options);
  const subject = `${context.what ? `${context.what} ` : ''}${path}`;
  switch (err.code) {
    case 'ENOSPC':
      return new ResourceError(`disk full writing ${subject}`, {
        ...options,
        hint: 'free space on that filesystem (df -h shows how much is left) or use -o to write elsewhere',
      });
    case 'EDQUOT':
      return new ResourceError(`disk quota exceeded writing ${subject}`, {
        ...options,
        hint: 'free space within your quota (quota -s) or use -o to write elsewhere',
      });
    case 'EROFS':
      return new InputError(`${subject} is on a read-only filesystem`, { ...options, hint: 'choose a writable location (-o DIR for the outputs)' });
    case 'EACCES':
    case 'EPERM':
      return new InputError(`permission denied: cannot ${verbOf(err.syscall)} ${subject}`, {
        ...options,
        hint: 'check the permissions of that path, or choose another one',
      });
    case 'ENOTDIR':
      return new InputError(`${subject}: a part of this path is not a directory`, {
        ...options,
        hint: 'a file stands where a directory is needed; choose another path',
      });
    case 'ENOENT':
      return new InputError(`${subject}: no such file or directory`, {
        ...options,
        hint: err.path ? `check the path; its directory (${dirname(err.path)}) must exist` : undefined,
      });
    case 'EISDIR':
      return new InputError(`${subject} is a directory, where a file is needed`, options);
    case 'EEXIST':
      return new InputError(`${subject} already exists`, options);
    case 'ENAMETOOLONG':
    case 'ELOOP':
      return new InputError(`${subject}: ${description}`, options);
    case 'EMFILE':
    case 'ENFILE':
      return new ResourceError(`too many open files (opening ${subject})`, { ...options, hint: 'raise the limit (ulimit -n) and run again' });
    case 'EIO':
      return new ResourceError(`I/O error on ${subject}`, { ...options, hint: 'the disk or network filesystem reported a failure; check it (dmesg) before running again' });
    default:
      return new ResourceError(`${subject}: ${description} (${err.code}, ${err.syscall})`, options);
  }
}

/** Syscalls on files: their errors concern a file even when Node does not name it (writes on a descriptor). */
const FILE_SYSCALLS = /^(open|close|read|write|fsync|fdatasync|ftruncate|truncate|rename|link|symlink|unlink|rmdir|rm|mkdir|mkdtemp|copyfile|copyFile|scandir|readdir|stat|lstat|fstat|access|chmod|fchmod|utime|futime|readlink|realpath)$/;

function verbOf(syscall: string): string {
  if (/^(open|access|stat|lstat|scandir|readdir)$/.test(syscall)) return 'open';
  if (/^(mkdir|mkdtemp)$/.test(syscall)) return 'create';
  if (/^(unlink|rmdir|rm)$/.test(syscall)) return 'remove';
  if (syscall === 'read') return 'read';
  return 'write';
}
