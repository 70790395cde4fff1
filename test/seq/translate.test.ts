import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { identifyFrames, reverseComplement, translateSixFrames } from '../../src/seq/translate.js';
import { translateRecord } from '../../src/seq/record.js';
import { fixture } from '../helpers.js';

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
