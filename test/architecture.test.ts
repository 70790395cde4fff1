/**
 * The folders of src/ are layers: a folder may import only folders in rows
 * below its own, never one above it nor one beside it. So a change in a lower
 * folder cannot be broken by a higher one, and each folder can be read and
 * tested without the ones above. The README's "Layout" table lists the same
 * folders; this test also keeps that table in step with the tree.
 *
 * Imports are read with TypeScript's own pre-processor (static, type-only,
 * re-exports and dynamic `import()`; comments and strings ignored).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { repoRoot } from './helpers.js';

/** Top to bottom. A folder may import the folders of any row below its own. */
const LAYERS: readonly (readonly string[])[] = [
  ['cli', 'api'], // parses flags and calls in; the library's entry point (package.json exports)
  ['pipeline'], // predict's stages: plans the work, runs it through the scheduler, writes the results
  ['cluster'], // queue mode: BullMQ jobs on Redis, the queue coordinator and workers, the worker registry
  ['demo', 'monitor'], // generated stand-in models; the dashboard and metrics that watch the scheduler
  ['report'], // report.html from a run's output files (also the live dashboard's page)
  ['scheduler'], // devices, assignment, work stealing, worker processes
  ['runtime'], // ONNX Runtime sessions, batching, the graph cache
  ['models', 'hub'], // graph builders, loaders, tokenizers; downloading and caching the published models
  ['formats', 'io', 'seq'], // file formats of weights and graphs; FASTA and result files; pure sequence functions
  ['util'], // shared by all
];

/**
 * Imports that break the rule today and are removed by a change already planned.
 * An entry that no longer occurs fails the test, so it is deleted with the fix.
 */
const KNOWN_EXCEPTIONS: ReadonlyArray<{ file: string; imports: string; why: string }> = [];

const srcDir = join(repoRoot, 'src');

function rowOf(folder: string): number {
  return LAYERS.findIndex((row) => row.includes(folder));
}

/** The top-level folder of src/ that `path` (absolute) lies in; '' for a file directly in src/. */
function folderOf(path: string): string {
  const rel = relative(srcDir, path);
  return rel.includes(sep) ? rel.split(sep)[0] : '';
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.(ts|mts|js|mjs)$/.test(e.name) ? [p] : [];
  });
}

interface CrossImport {
  file: string;
  from: string;
  to: string;
  specifier: string;
}

/** Every import of one src/ folder from another. */
function crossFolderImports(): CrossImport[] {
  const out: CrossImport[] = [];
  for (const file of sourceFiles(srcDir)) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName: specifier } of importedFiles) {
      if (!specifier.startsWith('.')) continue; // packages and node: builtins
      const target = resolve(dirname(file), specifier);
      assert.ok(!relative(srcDir, target).startsWith('..'), `${relative(repoRoot, file)} imports ${specifier}, outside src/`);
      const from = folderOf(file);
      const to = folderOf(target);
      if (from !== to) out.push({ file: relative(repoRoot, file).split(sep).join('/'), from, to, specifier });
    }
  }
  return out;
}

function isKnownException(i: CrossImport): boolean {
  return KNOWN_EXCEPTIONS.some((k) => k.file === i.file && k.imports === i.to);
}

test('every folder of src/ has a place in the layer table, and no file lies directly in src/', () => {
  const entries = readdirSync(srcDir, { withFileTypes: true });
  const stray = entries.filter((e) => !e.isDirectory()).map((e) => e.name);
  assert.deepEqual(stray, [], 'files directly in src/: put each into the folder whose job it does');
  const folders = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  assert.deepEqual(folders.filter((f) => rowOf(f) < 0), [], 'new folders: add each to LAYERS in test/architecture.test.ts and to the README layout');
  assert.deepEqual(LAYERS.flat().filter((f) => !folders.includes(f)).sort(), [], 'LAYERS names folders that src/ no longer has');
});

test('no folder imports a folder above it or beside it', () => {
  const violations = crossFolderImports()
    .filter((i) => rowOf(i.to) <= rowOf(i.from) && !isKnownException(i))
    .map((i) => `${i.file} (${i.from}) imports ${i.specifier} (${i.to})`);
  assert.deepEqual(violations, [], 'move the shared code down to a folder both may import (often util), or the importing code up');
});

test('every known exception still occurs (delete the entry once its import is gone)', () => {
  const imports = crossFolderImports();
  const gone = KNOWN_EXCEPTIONS.filter((k) => !imports.some((i) => i.file === k.file && i.to === k.imports));
  assert.deepEqual(gone, []);
});

test('the README layout table lists every folder of src/ and nothing else', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const section = /^## Layout\n([\s\S]*?)^## /m.exec(readme)?.[1];
  assert.ok(section, 'README.md has a "## Layout" section');
  const listed = [...section.matchAll(/^\| `src\/([^`/]+)\/?` \|/gm)].map((m) => m[1]).sort();
  const folders = readdirSync(srcDir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  assert.deepEqual(listed, folders);
});
