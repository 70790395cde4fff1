/**
 * `virnucpro embed` reads FASTQ as well as FASTA, told apart by content (io/sequences.ts): the same
 * records give the same embeddings, compressed or not, and a malformed FASTQ record is refused with
 * exit code 2 naming the file and line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fixture, repoRoot, tempDir, tsxImport } from '../helpers.js';

const dir = tempDir('virnucpro-embed-fastq-');

function virnucpro(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', tsxImport, join(repoRoot, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: dir });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The FASTA fixture's records as 4-line FASTQ (one quality character per base). */
function fastqOf(fasta: string): string {
  const records = fasta.split('>').slice(1).map((block) => {
    const [header, ...lines] = block.split('\n');
    return { header, sequence: lines.join('').trim() };
  });
  return records.map((r) => `@${r.header}\n${r.sequence}\n+\n${'I'.repeat(r.sequence.length)}\n`).join('');
}

const embed = (input: string, out: string) =>
  virnucpro(['embed', 'dnabert-s', '--weights', fixture('dnabert-s/model'), '-i', input, '-o', out, '--cache-dir', join(dir, 'cache'), '-t', '1', '-q']);

test('embed reads FASTQ (plain and gzip, by content) and gives the embeddings of the same records in FASTA', () => {
  const fastq = fastqOf(readFileSync(fixture('dnabert-s/dna.fasta'), 'utf8'));
  writeFileSync(join(dir, 'dna.fq'), fastq);
  // A misleading name: the content decides.
  writeFileSync(join(dir, 'dna.fa.gz'), gzipSync(fastq));
  const fromFasta = embed(fixture('dnabert-s/dna.fasta'), join(dir, 'a.jsonl'));
  assert.equal(fromFasta.code, 0, fromFasta.stderr);
  const expected = readFileSync(join(dir, 'a.jsonl'), 'utf8');
  assert.equal(expected.trim().split('\n').length, 10);
  for (const [input, out] of [['dna.fq', 'b.jsonl'], ['dna.fa.gz', 'c.jsonl']]) {
    const r = embed(join(dir, input), join(dir, out));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(dir, out), 'utf8'), expected, input);
  }
});

test('a FASTQ record whose quality is shorter than its sequence: exit code 2 naming the file and line, no output', () => {
  writeFileSync(join(dir, 'bad.fq'), '@r1\nACGTACGT\n+\nIIIIIIII\n@r2\nACGTACGT\n+\nIIII\n');
  const r = embed(join(dir, 'bad.fq'), join(dir, 'bad.jsonl'));
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /bad\.fq:8/);
  assert.doesNotMatch(r.stderr, /internal error/);
  assert.throws(() => readFileSync(join(dir, 'bad.jsonl')), /ENOENT/);
});

test('embed --help and translate --help say they read FASTA or FASTQ', () => {
  for (const command of ['embed', 'translate']) {
    const r = virnucpro([command, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.replace(/\s+/g, ' '), /FASTA or FASTQ/, command);
  }
});
