import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Absolute path of a file under test/fixtures (copied from the shared oracle data). */
export function fixture(rel: string): string {
  return fileURLToPath(new URL(`./fixtures/${rel}`, import.meta.url));
}

/** Repository root. */
export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** A fresh temporary directory, removed when the process exits. */
export function tempDir(prefix = 'virnucpro-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `--import` value for tsx that works from any working directory (a bare `tsx` resolves against the cwd). */
export const tsxImport = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Whether a process with this pid is still running (signal 0 probes without killing). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const SENSE_CODONS: string[] = [];
for (const a of 'ACGT') for (const b of 'ACGT') for (const c of 'ACGT') if (!['TAA', 'TAG', 'TGA'].includes(a + b + c)) SENSE_CODONS.push(a + b + c);

/** A coding-like sequence: `codons` random sense codons, so its first frame is stop-free (draws from `random`). */
export function codingSequence(codons: number, random: () => number): string {
  return Array.from({ length: codons }, () => SENSE_CODONS[Math.floor(random() * SENSE_CODONS.length)]).join('');
}

/** The CLI flags that run `predict` on the reference fixture models, with graphs cached under `cacheDir`. */
export function fixtureModelFlags(cacheDir: string): string[] {
  return [
    '--esm',
    fixture('esm2/fair-esm/esm2_t2_32_tiny.pt'),
    '--dnabert',
    fixture('dnabert-s/model'),
    '--classifier',
    fixture('mlp/mlp_full_module.pth'),
    '--cache-dir',
    cacheDir,
  ];
}
