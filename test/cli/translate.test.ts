import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { fixture, repoRoot, tempDir } from '../helpers.js';

/** Runs the real CLI in a child process, as a user would. */
function virnucpro(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const OUTPUTS = (stem: string, n: number) => [`${stem}_chunked${n}.fa`, `${stem}_identified_nucleotide.fa`, `${stem}_identified_protein.faa`];

test('e2e fixture, expected length 500: the three files are byte-identical to the original', () => {
  const out = tempDir();
  const r = virnucpro('translate', fixture('e2e/input.fa'), '-e', '500', '-o', out);
  assert.equal(r.code, 0, r.stderr);
  for (const f of OUTPUTS('input', 500)) assert.ok(readFileSync(join(out, f)).equals(readFileSync(fixture(`e2e/${f}`))), f);
  assert.match(r.stdout, /records: 13 \(1 shorter than a codon\)/);
  assert.match(r.stdout, /chunks: 20\nframes kept: 26\nrecords with no stop-free frame: 3/);
  assert.equal(r.stderr, '', 'no progress lines for such a small file');
});

test('awkward input, expected length 300 (outputs written by the original units.py + Biopython 1.80)', () => {
  const out = tempDir();
  const data = new URL('./data/', import.meta.url).pathname;
  const r = virnucpro('translate', join(data, 'awkward300.fa'), '-e', '300', '-o', out, '--quiet');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  for (const f of OUTPUTS('awkward300', 300)) assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(data, f))), f);
});

test('gzip input gives the same files, named without the compression extension', () => {
  const out = tempDir();
  const gz = join(out, 'input.fa.gz');
  writeFileSync(gz, gzipSync(readFileSync(fixture('e2e/input.fa'))));
  const r = virnucpro('translate', gz, '-e', '500', '-o', join(out, 'res'), '-q');
  assert.equal(r.code, 0, r.stderr);
  for (const f of OUTPUTS('input', 500)) assert.ok(readFileSync(join(out, 'res', f)).equals(readFileSync(fixture(`e2e/${f}`))), f);
});

test('empty records are counted and skipped (the original crashes on them)', () => {
  const out = tempDir();
  const input = join(out, 'e.fa');
  writeFileSync(input, '>empty\n>ok\nATGAAACCC\n');
  const r = virnucpro('translate', input, '-e', '300', '-o', out);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /records: 2 \(1 empty \(skipped\)\)/);
  assert.equal(readFileSync(join(out, 'e_chunked300.fa'), 'utf8'), '>ok_chunk_1\nATGAAACCC\n');
});

test('bad input exits 2 with a message naming file and line, and leaves no output files', () => {
  const out = tempDir();
  const input = join(out, 'bad.fa');
  writeFileSync(input, '>a\nACGT\n>b\nACGTQ\n');
  const r = virnucpro('translate', input, '-e', '300', '-o', join(out, 'res'));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bad\.fa:4: record 'b': invalid character 'Q' at column 5/);
  assert.match(r.stderr, /hint: .*protein/);
  assert.deepEqual(readdirSync(join(out, 'res')), [], 'no complete-looking or temporary files');
});

test('duplicate ids, a missing file and a bad -e are refused with exit code 2', () => {
  const out = tempDir();
  const dup = join(out, 'dup.fa');
  writeFileSync(dup, '>a\nAC\n>a\nGG\n');
  const d = virnucpro('translate', dup, '-e', '300', '-o', out);
  assert.equal(d.code, 2);
  assert.match(d.stderr, /duplicate record ID\(s\): 'a' \(line 3\)/);
  assert.ok(!existsSync(join(out, 'dup_chunked300.fa')));
  const m = virnucpro('translate', join(out, 'nope.fa'), '-e', '300', '-o', out);
  assert.equal(m.code, 2);
  assert.match(m.stderr, /nope\.fa: cannot read input: no such file/);
  const e = virnucpro('translate', dup, '-e', 'abc', '-o', out);
  assert.equal(e.code, 2);
  assert.match(e.stderr, /expected-length must be a positive integer/);
});
