/**
 * FASTQ input (fastq.ts) and the format and compression detection of sequences.ts, on
 * real files and streams: FASTQ plain and compressed with the real gzip, bzip2, xz and
 * zstd tools, detected by content whatever the name; stdin-like streams (the codec
 * chosen from a first block shorter than the magic number); the copy of stdin
 * (input-copy.ts); every malformed record refused with the file, line and record id.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { FastqParser } from '../../src/io/fastq.js';
import { InputCopy } from '../../src/io/input-copy.js';
import { readSequences, SequenceParser, type SequenceFormat, type SequenceSource } from '../../src/io/sequences.js';
import { fastaStem } from '../../src/io/paths.js';
import type { FastaRecord } from '../../src/io/fasta.js';
import { InputError } from '../../src/util/errors.js';
import { tempDir } from '../helpers.js';

const dir = tempDir();
let n = 0;
function file(content: string | Uint8Array, name = `in${n++}.fq`): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

async function readAll(source: SequenceSource): Promise<{ records: Array<[string, string, string, number]>; format: SequenceFormat | null }> {
  const records: Array<[string, string, string, number]> = [];
  let format: SequenceFormat | null = null;
  for await (const r of readSequences(source, { onFormat: (f) => (format = f) })) records.push([r.id, r.description, r.sequence, r.line]);
  return { records, format };
}

async function refused(content: string, pattern: RegExp): Promise<void> {
  const path = file(content);
  await assert.rejects(readAll(path), (e: unknown) => {
    assert.ok(e instanceof InputError, `an InputError (exit code 2), got ${String(e)}`);
    assert.equal(e.exitCode, 2);
    assert.ok(e.message.startsWith(`${path}:`), `names the file: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

const READS = '@r1 lane=1 x\nACGTN\n+\nIIIII\n@r2\nacgt\n+r2\n!!!!\n';

test('FASTQ records: id, description, sequence (case kept) and header line; a + line may repeat the title', async () => {
  const { records, format } = await readAll(file(READS));
  assert.equal(format, 'fastq');
  assert.deepEqual(records, [
    ['r1', 'r1 lane=1 x', 'ACGTN', 1],
    ['r2', 'r2', 'acgt', 5],
  ]);
});

test('multi-line records, CRLF, trailing spaces, blank lines between records, a quality starting with @, no final newline', async () => {
  const text = '\n@a\r\nACG\r\nTA  \r\n+\r\n@II\r\nII\r\n\r\n@b desc\nGG\n+\n@@';
  const { records } = await readAll(file(text));
  assert.deepEqual(records, [
    ['a', 'a', 'ACGTA', 2],
    ['b', 'b desc', 'GG', 9],
  ]);
});

test('blocks of any size give the same records (lines and records split across blocks)', () => {
  const text = Buffer.from('@r1 d\r\nACGTN\r\nAC\r\n+\r\nIIIIIII\r\n@r2\nNNNN\n+\n####\n');
  const collect = (parser: { push(b: Uint8Array): FastaRecord[]; end(): FastaRecord[] }, step: number) => {
    const out: FastaRecord[] = [];
    for (let i = 0; i < text.length; i += step) out.push(...parser.push(text.subarray(i, i + step)));
    out.push(...parser.end());
    return out.map((r) => [r.id, r.description, r.sequence, r.line]);
  };
  const whole = collect(new FastqParser('x'), text.length);
  assert.deepEqual(whole, [
    ['r1', 'r1 d', 'ACGTNAC', 1],
    ['r2', 'r2', 'NNNN', 6],
  ]);
  for (const step of [1, 2, 3, 7]) {
    assert.deepEqual(collect(new FastqParser('x'), step), whole, `fastq parser, blocks of ${step}`);
    assert.deepEqual(collect(new SequenceParser('x'), step), whole, `detecting parser, blocks of ${step}`);
  }
});

test('the format is read from the content, never the name: FASTQ named .fa, FASTA named .fq, leading blank lines', async () => {
  assert.equal((await readAll(file(READS, 'reads.fa'))).format, 'fastq');
  const fasta = await readAll(file('\n  \n>r1\nACGT\n', 'seqs.fq'));
  assert.equal(fasta.format, 'fasta');
  assert.deepEqual(fasta.records, [['r1', 'r1', 'ACGT', 3]]);
  // Not a sequence file at all: the FASTA reader's own errors.
  await refused('hello\n', /data before the first header/);
  await refused('', /empty file/);
});

test('FASTQ compressed with gzip, bzip2, xz and zstd (the real tools) reads as the plain file, whatever the extension', async () => {
  const plain = file(READS, 'plain.fq');
  const want = (await readAll(plain)).records;
  for (const [tool, args] of [
    ['gzip', ['-c']],
    ['bzip2', ['-c']],
    ['xz', ['-c']],
    ['zstd', ['-q', '-c']],
  ] as const) {
    const r = spawnSync(tool, [...args, plain]);
    assert.equal(r.status, 0, `${tool} ran: ${r.stderr}`);
    const got = await readAll(file(r.stdout, `reads.${tool}.txt`));
    assert.equal(got.format, 'fastq', tool);
    assert.deepEqual(got.records, want, tool);
  }
});

test('a stream read once (stdin): the codec from a first block shorter than its magic number, then the rest', async () => {
  const gz = gzipSync(Buffer.from(READS));
  const blocks = [gz.subarray(0, 1), gz.subarray(1, 3), gz.subarray(3)];
  const got = await readAll({ name: '<stdin>', stream: Readable.from(blocks) });
  assert.equal(got.format, 'fastq');
  assert.deepEqual(got.records.map((r) => r[2]), ['ACGTN', 'acgt']);
  const plain = await readAll({ name: '<stdin>', stream: Readable.from([Buffer.from('>a\nAC'), Buffer.from('GT\n')]) });
  assert.deepEqual(plain.records, [['a', 'a', 'ACGT', 1]]);
  await assert.rejects(readAll({ name: '<stdin>', stream: Readable.from([Buffer.from('@a\nAC\n+\nI')]) }), /^InputError: <stdin>:4: record 'a'/);
});

test('the copy of stdin: plain input is gzip-compressed (several members), compressed input is copied as is; both read back the same', async () => {
  const big = Array.from({ length: 3000 }, (_, i) => `@read${i}\n${'ACGT'.repeat(100)}\n+\n${'I'.repeat(400)}\n`).join('');
  const plainCopy = new InputCopy(join(dir, 'plain.copy'));
  // Blocks as stdin gives them, the first shorter than any magic number.
  const bytes = Buffer.from(big);
  plainCopy.write(bytes.subarray(0, 3));
  for (let i = 3; i < bytes.length; i += 65536) plainCopy.write(bytes.subarray(i, i + 65536));
  const info = plainCopy.commit();
  assert.equal(info.gzipped, true);
  const copied = readFileSync(join(dir, 'plain.copy'));
  assert.equal(copied[0], 0x1f, 'gzip');
  assert.ok(copied.length < bytes.length / 3, 'compressed');
  assert.equal(info.bytes, copied.length);
  assert.equal((await readAll(join(dir, 'plain.copy'))).records.length, 3000);

  const gz = gzipSync(Buffer.from(READS));
  const gzCopy = new InputCopy(join(dir, 'gz.copy'));
  gzCopy.write(gz.subarray(0, 2));
  gzCopy.write(gz.subarray(2));
  assert.equal(gzCopy.commit().gzipped, false);
  assert.deepEqual(readFileSync(join(dir, 'gz.copy')), gz, 'the compressed input, byte for byte');
});

test('a FASTQ record without its + line is refused with the file, line and record', async () => {
  await refused('@r1\nACGT\n@r2\nACGT\n+\nIIII\n', /:3: record 'r1': no '\+' line: a new header follows the sequence of the record \(line 1\)/);
});

test('a quality whose length differs from the sequence is refused with the file, line and record', async () => {
  await refused('@r1\nACGT\n+\nIIII\n@r2 x\nACGT\n+\nIII\n@r3\nAC\n+\nII\n', /:8: record 'r2': the quality length \(3\) differs from the sequence length \(4\)$/);
  await refused('@r1\nACGT\n+\nIIIII\n', /:4: record 'r1': the quality length \(5\) differs from the sequence length \(4\)/);
  // A one-line sequence has a one-line quality: a short one is reported on its own line, not lines later.
  await refused('@r1\nACGTACGT\n+\nIIII\n@r3\nAC\n+\nII\n', /:4: record 'r1': the quality length \(4\) differs from the sequence length \(8\)$/);
  // A multi-line one may wrap, and the next header ends a short one.
  await refused('@r1\nACGT\nACGT\n+\nIIII\nII\n@r3\nAC\n+\nII\n', /:6: record 'r1': the quality length \(6\) differs from the sequence length \(8\)$/);
});

test('a truncated FASTQ record is refused with the file, line and record', async () => {
  await refused('@r1\nACGT\n+\nIIII\n@r2\nACGT\n', /:5: record 'r2' is truncated: the file ends before its '\+' line and quality/);
  await refused('@r1\nACGT\n+\nIIII\n@r2\nACGT\n+\nII', /:8: record 'r2': the quality length \(2\) differs from the sequence length \(4\)/);
  await refused('@r1\nAC\nGT\n+\nII\n', /:5: record 'r1': the quality length \(2\) differs from the sequence length \(4\), or the record is truncated/);
  await refused('@r1\nACGT\n+\n', /:3: record 'r1': the quality length \(0\) differs from the sequence length \(4\), or the record is truncated/);
});

test('other malformed FASTQ: no @ where a header belongs, bad bases, bad quality bytes, another title on the + line, duplicate ids', async () => {
  await refused('@r1\nACGT\n+\nIIII\nr2\nACGT\n+\nIIII\n', /:5: expected a FASTQ header line starting with '@' \(after record 'r1'\), found 'r'/);
  await refused('@r1\nACJT\n+\nIIII\n', /:2: record 'r1': invalid character 'J' at column 3/);
  await refused('@r1\nAC GT\n+\nIIIII\n', /:2: record 'r1': whitespace inside the sequence \(column 3\)/);
  await refused('@r1\nACGT\n+\nII\u0001I\n', /:4: record 'r1': invalid quality character byte 0x01 at column 3/);
  await refused('@r1\nACGT\n+r9\nIIII\n', /:3: record 'r1': the '\+' line repeats another title than the header's/);
  await refused('@r1\nA\n+\nI\n@r1\nC\n+\nI\n', /2 duplicate|1 duplicate record ID\(s\): 'r1' \(line 5\)/);
});

test('output stems drop FASTQ extensions; stdin is "stdin"', () => {
  assert.equal(fastaStem('/data/reads.fq.gz'), 'reads');
  assert.equal(fastaStem('x/sample.FASTQ.zst'), 'sample');
  assert.equal(fastaStem('-'), 'stdin');
});
