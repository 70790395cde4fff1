/**
 * Resource caps on the command line (issue 15): a value beyond what this
 * machine can sensibly run is refused with exit code 2 before any work
 * starts (no output directory, no worker). Values are one past each cap on
 * the machine running the test, so without the caps these runs would succeed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fixture, fixtureModelFlags, repoRoot, tempDir, tsxImport } from '../helpers.js';
import { MAX_BATCH_TOKENS, MAX_SHARD_TOKENS, THREADS_PER_CORE } from '../../src/scheduler/limits.js';

const CLI = join(repoRoot, 'src/cli/main.ts');
const cores = availableParallelism();
const dir = tempDir('virnucpro-limits-');
const MODELS = fixtureModelFlags(join(dir, 'cache'));

function virnucpro(args: string[]): { code: number | null; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', tsxImport, CLI, ...args], { cwd: dir, encoding: 'utf8' });
  return { code: r.status, stderr: r.stderr };
}

function predictRefused(extra: string[], message: RegExp): void {
  const out = join(dir, `out-${extra.join('_').replace(/[^\w]/g, '')}`);
  const r = virnucpro(['predict', fixture('e2e/input.fa'), '-e', '500', ...MODELS, '-o', out, ...extra]);
  assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
  assert.match(r.stderr, message);
  assert.equal(existsSync(out), false, 'nothing may be written before the flags are checked');
}

test('predict -t beyond 4 threads per core is refused with exit code 2', () => {
  predictRefused(['-t', String(THREADS_PER_CORE * cores + 1)], new RegExp(`--threads must be an integer from 1 to ${THREADS_PER_CORE * cores}[^\\n]*\\nhint: this machine has ${cores} cores`));
});

test('predict --devices cpu:N beyond the cores is refused with exit code 2', () => {
  predictRefused(['--devices', `cpu:${cores + 1}`], new RegExp(`asks for ${cores + 1} CPU workers, more than the ${cores} cores[^\\n]*\\nhint: use at most cpu:${cores}`));
});

test('predict --steal-interval beyond an hour (1e9 once overflowed to 1 ms) is refused with exit code 2', () => {
  predictRefused(['--steal-interval', '1e9'], /--steal-interval must be a number of seconds from 0.05 to 3600, got '1e9'/);
});

test('predict --batch-tokens and --shard-tokens above their caps are refused with exit code 2', () => {
  predictRefused(['--batch-tokens', String(MAX_BATCH_TOKENS + 1)], /--batch-tokens must be an integer from 1 to 1000000/);
  predictRefused(['--shard-tokens', String(MAX_SHARD_TOKENS + 1)], /--shard-tokens must be an integer from 1 to 20000000/);
});

test('embed -t and --batch-tokens have the same caps', () => {
  const base = ['embed', 'esm2', '--weights', fixture('esm2/hf'), '-i', fixture('esm2/proteins.fasta'), '--cache-dir', join(dir, 'cache')];
  const out = join(dir, 'e.jsonl');
  let r = virnucpro([...base, '-o', out, '-t', String(THREADS_PER_CORE * cores + 1)]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--threads must be an integer from 1 to/);
  r = virnucpro([...base, '-o', out, '--batch-tokens', String(MAX_BATCH_TOKENS + 1)]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--batch-tokens must be an integer from 1 to 1000000/);
  assert.equal(existsSync(out), false);
});
