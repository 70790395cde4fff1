import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { FastaParser, readFasta, type FastaRecord, type ReadFastaOptions } from '../../src/io/fasta.js';
import { FastaWriter, fastaTitle } from '../../src/io/fasta-writer.js';
import { fastaStem } from '../../src/io/paths.js';
import { InputError } from '../../src/util/errors.js';
import { fixture, tempDir } from '../helpers.js';
import { seededRandom } from '../../src/util/random.js';

const dir = tempDir();
let n = 0;
function file(content: string | Uint8Array, name = `in${n++}.fa`): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

async function readAll(path: string, options?: ReadFastaOptions): Promise<FastaRecord[]> {
  const out: FastaRecord[] = [];
  for await (const r of readFasta(path, options)) out.push(r);
  return out;
}

const simple = (rs: FastaRecord[]) => rs.map((r) => [r.id, r.description, r.sequence]);

async function rejects(content: string | Uint8Array, pattern: RegExp, options?: ReadFastaOptions): Promise<InputError> {
  return rejectsPath(file(content), pattern, options);
}

async function rejectsPath(path: string, pattern: RegExp, options?: ReadFastaOptions): Promise<InputError> {
  let caught: unknown;
  try {
    await readAll(path, options);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof InputError, `expected an InputError, got ${String(caught)}`);
  assert.match((caught as InputError).message, pattern);
  return caught as InputError;
}

test('the e2e input parses exactly as Biopython parsed it (CRLF, blank lines, trailing spaces, descriptions)', async () => {
  const expected = JSON.parse(readFileSync(fixture('e2e/expected_e2e.json'), 'utf8')).input_records;
  const got = await readAll(fixture('e2e/input.fa'));
  assert.deepEqual(
    simple(got),
    expected.map((r: { id: string; description: string; sequence: string }) => [r.id, r.description, r.sequence]),
  );
  assert.equal(got[0].line, 1);
  assert.equal(got[1].line, 5);
});

test('Biopython id rules: first word of the title, Python whitespace, empty ids', async () => {
  const rs = await readAll(file('>  lead\tdesc  \nAC\n>\nGG\n> \t \nTT\n>a\u00a0b c\nA\n>x\u001fy\nC\n>z\ufeffw\nG\n>p\u0085q r\u0085\nT\n'), { duplicateIds: 'allow' });
  assert.deepEqual(simple(rs), [
    ['lead', '  lead\tdesc', 'AC'],
    ['', '', 'GG'],
    ['', '', 'TT'],
    ['a', 'a\u00a0b c', 'A'], // U+00A0 is whitespace for Python
    ['x', 'x\u001fy', 'C'], // so is U+001F (not for JavaScript's \s)
    ['z\ufeffw', 'z\ufeffw', 'G'], // U+FEFF is not (JavaScript's \s says it is)
    ['p', 'p\u0085q r', 'T'], // U+0085 (NEL) is Python whitespace: it ends the id and is stripped at the end
  ]);
});

test('line endings: LF, CRLF, lone CR (universal newlines); spaces removed; trailing whitespace stripped', async () => {
  const rs = await readAll(file('>a x\rAC GT\t \r\n\r\n  TT\r>b\r\nGG\u00a0\n\n'));
  assert.deepEqual(simple(rs), [
    ['a', 'a x', 'ACGTTT'],
    ['b', 'b', 'GG'],
  ]);
});

test('records split across read blocks parse the same as in one block', () => {
  const text = Buffer.from('>r1 d\r\nACGTN\r\nacgt \r\n>r2\nNNNN\n\n>r3\r\nA');
  const whole = new FastaParser('x');
  const expected = [...whole.push(text), ...whole.end()].map((r) => [r.id, r.sequence, r.line]);
  for (let size = 1; size <= 7; size++) {
    const p = new FastaParser('x');
    const got: FastaRecord[] = [];
    for (let i = 0; i < text.length; i += size) got.push(...p.push(text.subarray(i, i + size)));
    got.push(...p.end());
    assert.deepEqual(got.map((r) => [r.id, r.sequence, r.line]), expected, `block size ${size}`);
  }
  assert.deepEqual(expected, [['r1', 'ACGTNacgt', 1], ['r2', 'NNNN', 4], ['r3', 'A', 7]]);
});

test('empty records and blank lines before the first header are accepted', async () => {
  const rs = await readAll(file('\n  \n>e1\n>e2 desc\n\n>s\nAC\n'));
  assert.deepEqual(simple(rs), [['e1', 'e1', ''], ['e2', 'e2 desc', ''], ['s', 's', 'AC']]);
});

test('gzip (multi-member), bzip2, xz and zstd are detected by magic bytes, not by name', async (t) => {
  const text = '>a desc\nACGTACGT\nAC\n>b\nTTTT\n';
  const expected = [['a', 'a desc', 'ACGTACGTAC'], ['b', 'b', 'TTTT']];
  const twoMembers = Buffer.concat([gzipSync('>a desc\nACGTACGT\n'), gzipSync('AC\n>b\nTTTT\n')]);
  assert.deepEqual(simple(await readAll(file(twoMembers, 'gz-without-extension.fa'))), expected);
  for (const [tool, ext] of [['bzip2', 'bz2'], ['xz', 'xz'], ['zstd', 'zst']]) {
    const plain = file(text, `c.${tool}.fa`);
    const r = spawnSync(tool, ['-q', '-k', '-f', plain]);
    if (r.error || r.status !== 0) {
      t.diagnostic(`${tool} command not available; skipped`);
      continue;
    }
    assert.deepEqual(simple(await readAll(`${plain}.${ext}`)), expected, tool);
    const whole = readFileSync(`${plain}.${ext}`);
    await rejects(whole.subarray(0, Math.max(10, whole.length - 12)), new RegExp(`truncated or corrupt ${tool} stream`));
  }
  await rejects(gzipSync(text).subarray(0, 20), /truncated or corrupt gzip stream/);
});

test('bad input: clear errors naming file, line and record', async () => {
  await rejects('', /empty file/);
  await rejects('\n \n', /no FASTA records/);
  await rejects('ACGT\n>a\nAC\n', /:1: data before the first header/);
  await rejects(Buffer.from([0x00, 0x01, 0x02, 0x03]), /binary data/);
  await rejects(Buffer.from([0x3e, 0x61, 0x0a, 0x41, 0x00, 0x43]), /:2: record 'a': binary data/);
  await rejects('>a\nACGT\n>b\nACXT\n', /:4: record 'b': invalid character 'X' at column 3/);
  const protein = await rejects('>p\nMKVLAAGIEEQ\n', /invalid character/);
  assert.match(protein.hint ?? '', /looks like a protein/);
  await rejects('>a\nAC\tGT\n', /:2: record 'a': whitespace byte 0x09 \(column 3\) inside the sequence/);
  await rejects('>a\nAC\u00e9GT\n', /non-ASCII/);
  await rejects('\ufeff>a\nAC\n', /byte-order mark/);
  await rejects(Buffer.from([0x3e, 0xff, 0xfe, 0x0a, 0x41]), /not valid UTF-8/);
  await rejectsPath(join(dir, 'missing.fa'), /missing\.fa: cannot read input: no such file/);
  await rejectsPath(dir, /is a directory/);
});

test('duplicate ids are listed after the whole file is read, or allowed on request', async () => {
  const text = '>a\nAC\n>b\nAC\n>a x\nGG\n>c\nA\n>b\nT\n>a\nC\n';
  const err = await rejects(text, /3 duplicate record ID\(s\): 'a' \(line 5\), 'b' \(line 9\), 'a' \(line 11\)/);
  assert.match(err.message, /^.*in\d+\.fa: /);
  assert.equal((await readAll(file(text), { duplicateIds: 'allow' })).length, 6);
});

test('protein and any alphabets for other callers', async () => {
  assert.deepEqual(simple(await readAll(file('>p\nMKV*\n'), { alphabet: 'protein' })), [['p', 'p', 'MKV*']]);
  assert.deepEqual(simple(await readAll(file('>p\nA1B2\n'), { alphabet: 'any' })), [['p', 'p', 'A1B2']]);
});

test('unreadable file (permissions) is an InputError', { skip: process.getuid?.() === 0 ? 'running as root' : false }, async () => {
  const p = file('>a\nAC\n');
  chmodSync(p, 0o000);
  await rejectsPath(p, /permission denied/);
});

test('writer: Biopython 60-column wrapping and title rule; single-line mode', () => {
  const p60 = join(dir, 'w60.fa');
  const w = new FastaWriter(p60);
  w.write(fastaTitle('id1', 'id1 some words'), 'A'.repeat(125));
  w.write(fastaTitle('id2', 'other words'), 'ACGT');
  w.write(fastaTitle('id3'), '');
  w.commit();
  assert.equal(readFileSync(p60, 'utf8'), `>id1 some words\n${'A'.repeat(60)}\n${'A'.repeat(60)}\nAAAAA\n>id2 other words\nACGT\n>id3\n`);
  const p1 = join(dir, 'w1.fa');
  const w1 = new FastaWriter(p1, { lineWidth: 0 });
  w1.write('x', Buffer.from('C'.repeat(200)));
  w1.write('y', '');
  w1.commit();
  assert.equal(readFileSync(p1, 'utf8'), `>x\n${'C'.repeat(200)}\n>y\n\n`);
  const aborted = join(dir, 'aborted.fa');
  const wa = new FastaWriter(aborted);
  wa.write('z', 'A');
  wa.abort();
  assert.throws(() => readFileSync(aborted));
});

test('output stems drop FASTA and compression extensions', () => {
  assert.equal(fastaStem('/data/input.fa'), 'input');
  assert.equal(fastaStem('reads.fasta.gz'), 'reads');
  assert.equal(fastaStem('x/sample.v2.FNA.zst'), 'sample.v2');
  assert.equal(fastaStem('noext'), 'noext');
});


/** Biopython's FASTA rules restated plainly on a string (ASCII whitespace only): the oracle for the random test below. */
function referenceParse(text: string): [string, string, string, number][] {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.at(-1) === '') lines.pop();
  const out: [string, string, string, number][] = [];
  let current: [string, string, string, number] | null = null;
  lines.forEach((line, k) => {
    if (line.startsWith('>')) {
      if (current) out.push(current);
      const title = line.slice(1).replace(/[ \t]+$/, '');
      current = [title.trim().split(/[ \t]+/)[0] ?? '', title, '', k + 1];
    } else if (current) {
      current[2] += line.replace(/[ \t]+$/, '').replaceAll(' ', '');
    }
  });
  if (current) out.push(current);
  return out;
}

test('random files parse as the plain restatement of the rules, whatever the block size (fast and byte-at-a-time paths)', () => {
  const cases: [ReadFastaOptions['alphabet'], string][] = [
    ['nucleotide', 'ACGTACGTACGTNacgtnRYKM-.'],
    ['protein', 'ACDEFGHIKLMNPQRSTVWYXacdefghy*-'],
    ['any', 'ACGT>!~acgt0123'],
  ];
  const endings = ['\n', '\n', '\n', '\r\n', '\r'];
  for (const [alphabet, residues] of cases) {
    for (let seed = 1; seed <= 12; seed++) {
      const rand = seededRandom(seed * 7919);
      const pick = (s: string | string[]) => s[Math.floor(rand() * s.length)];
      let text = rand() < 0.3 ? '\n \n' : '';
      const records = 5 + Math.floor(rand() * 40);
      for (let r = 0; r < records; r++) {
        text += `>${rand() < 0.1 ? ' ' : ''}id${seed}_${r}${rand() < 0.5 ? ' some description' : ''}${rand() < 0.2 ? ' \t' : ''}${pick(endings)}`;
        const lines = rand() < 0.1 ? 0 : Math.floor(rand() * 8);
        const width = 1 + Math.floor(rand() * 130);
        for (let l = 0; l < lines; l++) {
          let line = '';
          const len = rand() < 0.1 ? 0 : 1 + Math.floor(rand() * width);
          for (let i = 0; i < len; i++) line += rand() < 0.03 ? ' ' : pick(residues);
          if (line.startsWith('>')) line = 'A' + line;
          if (rand() < 0.1) line += pick([' ', '\t', ' \t ']);
          text += line + pick(endings);
        }
      }
      if (rand() < 0.3) text = text.replace(/[\r\n]+$/, ''); // no newline at the end
      const bytes = Buffer.from(text, 'latin1');
      const expected = referenceParse(text);
      for (const blockSize of [bytes.length, 1, 3, 4, 5, 61, 4096, 1 + Math.floor(rand() * 700)]) {
        const p = new FastaParser('x', { alphabet });
        const got: FastaRecord[] = [];
        for (let i = 0; i < bytes.length; i += blockSize) got.push(...p.push(bytes.subarray(i, i + blockSize)));
        got.push(...p.end());
        assert.deepEqual(
          got.map((r) => [r.id, r.description, r.sequence, r.line]),
          expected,
          `alphabet ${alphabet}, seed ${seed}, block size ${blockSize}`,
        );
      }
    }
  }
});

test('records stay valid after later blocks are parsed (they are views into arenas that are never reused)', () => {
  const p = new FastaParser('x', { duplicateIds: 'allow' });
  const line = 'ACGT'.repeat(15) + '\n';
  const got: FastaRecord[] = [];
  for (let r = 0; r < 3000; r++) got.push(...p.push(Buffer.from(`>r${r}\n${line.repeat(40)}`)));
  got.push(...p.end());
  assert.equal(got.length, 3000);
  for (const r of got) assert.equal(r.sequence, 'ACGT'.repeat(600), r.id);
});

test('errors after many fast-path lines still name the right line and column (LF and CRLF, any block size)', () => {
  for (const eol of ['\n', '\r\n']) {
    const text = Buffer.from(`>r desc${eol}${`${'ACGT'.repeat(15)}${eol}`.repeat(500)}ACGTACGTAXCG${eol}`);
    for (const blockSize of [text.length, 7, 64, 1000]) {
      const p = new FastaParser('f.fa');
      assert.throws(
        () => {
          for (let i = 0; i < text.length; i += blockSize) p.push(text.subarray(i, i + blockSize));
          p.end();
        },
        (e: unknown) => e instanceof InputError && /^f\.fa:502: record 'r': invalid character 'X' at column 10$/.test(e.message),
        `eol ${JSON.stringify(eol)}, block size ${blockSize}`,
      );
    }
  }
});
