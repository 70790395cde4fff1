import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CODON_TABLE, identifyFrames, reverseComplement, translateSixFrames } from '../../src/seq/translate.js';
import { translateRecord } from '../../src/seq/record.js';
import { fixture } from '../helpers.js';
import { seededRandom } from '../../src/util/random.js';

const e2e = JSON.parse(readFileSync(fixture('e2e/expected_e2e.json'), 'utf8'));

test('reverse complement maps ACGTacgt only', () => {
  assert.equal(reverseComplement('AACGTN'), 'NACGTT');
  assert.equal(reverseComplement('acgtRY'), 'YRacgt');
});

test('codons with non-ACGT (N, IUPAC, lowercase) are dropped, not translated as X', () => {
  assert.deepEqual(translateSixFrames('ATGNNNAAA'), ['MK', '', '', 'FH', '', '']);
  assert.deepEqual(translateSixFrames('atgAAA').slice(0, 1), ['K']);
  assert.deepEqual(translateSixFrames('AT'), ['', '', '', '', '', '']);
});

test('frames with a stop are rejected; nucleotide slice is one base longer than the codons', () => {
  // F1: ATG GCC -> MA, slice seq[0:7] clamps to the 6 bases; F2: TGG CC -> W, slice seq[1:5].
  const frames = identifyFrames('x', 'ATGGCC');
  assert.deepEqual(
    frames.map((f) => [f.id, f.nucleotide, f.protein]),
    [
      ['xF1', 'ATGGCC', 'MA'],
      ['xF2', 'TGGC', 'W'],
      ['xF3', 'GGCC', 'G'],
      ['xR1', 'GGCCAT', 'GH'],
      ['xR2', 'GCCA', 'A'],
      ['xR3', 'CCAT', 'P'],
    ],
  );
  // F1 is three stops; the other frames are stop-free.
  assert.deepEqual(identifyFrames('y', 'TAATAATAA').map((f) => f.id), ['yF2', 'yF3', 'yR1', 'yR2', 'yR3']);
});

test('a protein shortened by N codons keeps the original slice arithmetic', () => {
  // F1 codons: ATG NNN GCC -> 'MA' (2 aa), slice seq[0:7] = 'ATGNNNG'.
  const f1 = identifyFrames('n', 'ATGNNNGCCA')[0];
  assert.deepEqual([f1.id, f1.nucleotide, f1.protein], ['nF1', 'ATGNNNG', 'MA']);
});

test('every identified frame of the e2e run is reproduced, in order', () => {
  const got = e2e.input_records.flatMap((r: { id: string; sequence: string }) => translateRecord(r.id, r.sequence, 500).frames);
  assert.deepEqual(
    got.map((f: { id: string; nucleotide: string; protein: string }) => [f.id, f.nucleotide, f.protein]),
    e2e.identified.map((f: { id: string; nucleotide: string; protein: string }) => [f.id, f.nucleotide, f.protein]),
  );
});

test('records shorter than a codon give a chunk and no frame; empty records give nothing', () => {
  assert.deepEqual(translateRecord('t', 'AC', 300), { chunks: [{ id: 't_chunk_1', sequence: 'AC' }], frames: [] });
  assert.deepEqual(translateRecord('e', '', 300), { chunks: [], frames: [] });
});

/** VirNucPro's units.py restated on strings (dict lookups, slicing): the oracle for the random tests below. */
const COMPLEMENT: Record<string, string> = { A: 'T', C: 'G', G: 'C', T: 'A', a: 't', c: 'g', g: 'c', t: 'a' };
function referenceIdentify(seqid: string, seq: string): [string, string, string][] {
  const rc = [...seq].reverse().map((c) => COMPLEMENT[c] ?? c).join('');
  const out: [string, string, string][] = [];
  [seq, seq, seq, rc, rc, rc].forEach((s, k) => {
    const f = k % 3;
    let protein = '';
    for (let i = f; i < s.length - 2; i += 3) protein += CODON_TABLE[s.slice(i, i + 3)] ?? '';
    if (protein.includes('*') || protein === '') return;
    out.push([`${seqid}${k < 3 ? 'F' : 'R'}${f + 1}`, s.slice(f, f + 1 + 3 * protein.length), protein]);
  });
  return out;
}

/** split_fasta_chunk restated: the steps list and zip() as the original builds them. */
function referenceChunks(seq: string, size: number): [number, string][] {
  const n = seq.length;
  const k = Math.ceil(n / size);
  const rep = k * size - n;
  const lo = Math.trunc(rep / k);
  const need = rep - lo * (k - 1);
  const steps = [...Array(need).fill(lo + 1), ...Array(Math.max(0, k - 1 - need)).fill(lo), 0];
  const out: [number, string][] = [];
  let move = 0;
  const py = (i: number) => (i < 0 ? Math.max(0, i + n) : Math.min(i, n));
  for (let j = 0; j * size < n && j < steps.length; j++) {
    const a = j * size;
    const from = a > 1 ? a - move : a;
    out.push([j + 1, seq.slice(py(from), Math.max(py(from), py(from + size)))]);
    move += steps[j];
  }
  return out;
}

function randomSequence(rand: () => number, length: number, alphabet: string): string {
  let s = '';
  for (let i = 0; i < length; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
  return s;
}


test('random sequences: frames equal the restated original (stops, N/IUPAC/lowercase codons dropped, slices)', () => {
  const rand = seededRandom(12345);
  // Few stops in a skewed alphabet, so stop-free frames (the translate path) are common too.
  for (const alphabet of ['ACGT', 'ACGTNacgtRY-', 'CCGGGAAC', 'ccggaacNN']) {
    for (let k = 0; k < 400; k++) {
      const seq = randomSequence(rand, Math.floor(rand() * 60), alphabet);
      assert.deepEqual(
        identifyFrames('s', seq).map((f) => [f.id, f.nucleotide, f.protein]),
        referenceIdentify('s', seq),
        seq,
      );
    }
  }
});

test('random records: chunks and frames of translateRecord equal the restated original', () => {
  const rand = seededRandom(777);
  for (const alphabet of ['ACGTN', 'CCGGGAACacgN']) {
    for (let k = 0; k < 60; k++) {
      const seq = randomSequence(rand, 1 + Math.floor(rand() * 1500), alphabet);
      for (const size of [7, 300, 500]) {
        const chunks = referenceChunks(seq, size);
        const got = translateRecord('r', seq, size);
        assert.deepEqual(
          got.chunks.map((c) => [c.id, c.sequence]),
          chunks.map(([i, s]) => [`r_chunk_${i}`, s]),
        );
        assert.deepEqual(
          got.frames.map((f) => [f.id, f.nucleotide, f.protein]),
          chunks.flatMap(([i, s]) => referenceIdentify(`r_chunk_${i}`, s.toUpperCase())),
        );
      }
    }
  }
});
