/**
 * What the scatter/gather tests share: the input and models of a small run cut into 9 shards, the command that
 * runs the CLI from source (what a workflow engine runs in place of `virnucpro`), and a plain local run to compare
 * the outputs with.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, runCli } from '../cli-harness.js';
import { fixture, fixtureModelFlags, tsxImport } from '../helpers.js';

export const INPUT = fixture('e2e/input.fa');

/** predict's flags besides the input and -o: the fixture models, and shards small enough for 9 of them. */
export function runFlags(cacheDir: string): string[] {
  return ['-e', '500', ...fixtureModelFlags(cacheDir), '--shard-tokens', '300'];
}

export const SHARDS = 9;

/** The outputs that must be byte-identical to a local run (run.json holds timings). */
export const RESULT_FILES = ['prediction_results.txt', 'prediction_results_highestscore.csv', 'summary.tsv'];

/** `virnucpro` as a shell command word list: node with tsx on the sources. */
export const VIRNUCPRO_COMMAND = [process.execPath, '--import', tsxImport, CLI];

export function readResults(dir: string): Record<string, Buffer> {
  return Object.fromEntries(RESULT_FILES.map((f) => [f, readFileSync(join(dir, f))]));
}

/** One plain local `predict` run into `out`: what every scatter/gather run must reproduce byte for byte. */
export async function localRun(cacheDir: string, out: string): Promise<Record<string, Buffer>> {
  const r = await runCli(['predict', INPUT, ...runFlags(cacheDir), '-o', out, '-q'], { timeoutMs: 180_000 });
  assert.equal(r.code, 0, r.stderr);
  return readResults(out);
}

export interface ProcessRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program (not the CLI) and collects its output; killed after `timeoutMs`. */
export function runProgram(file: string, args: string[], options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
