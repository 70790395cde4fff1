/**
 * Running the real `virnucpro` CLI in a child process, as a user runs it, and checking what a refused run
 * must never do: lose a user's file or end in a stack trace.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, tsxImport } from './helpers.js';

export const CLI = join(repoRoot, 'src/cli/main.ts');

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Sees the stderr so far and may signal the child (hold points). */
  onStderr?: (text: string, child: ReturnType<typeof spawn>) => void;
  /** Kills the child after this many ms, so a hang fails the test instead of the suite. */
  timeoutMs?: number;
}

/** Runs `virnucpro ARGS` (from source, through tsx) and resolves when it exits. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', tsxImport, CLI, ...args], {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      options.onStderr?.(stderr, child);
    });
    child.stdout!.resume();
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}

/** Every file and folder under `root` with a hash of its content: what a refused run must leave as it was. */
export function treeSnapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
    const p = join(root, rel);
    out[rel] = statSync(p).isDirectory() ? 'dir' : createHash('sha256').update(readFileSync(p)).digest('hex');
  }
  return out;
}

/** An ordinary problem is a message and an exit code, never "internal error" with a stack trace. */
export function assertNoInternalError(r: CliRun): void {
  assert.doesNotMatch(r.stderr, /internal error|This is a bug|\n\s+at /, 'no stack trace');
}
