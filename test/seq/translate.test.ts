import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CODON_TABLE, identifyFrames, reverseComplement, translateSixFrames } from '../../src/seq/translate.js';
import { processRecordBytes, translateRecord } from '../../src/seq/record.js';
import { fixture } from '../helpers.js';
import { seededRandom } from '../../src/util/random.js';

const e2e = JSON.parse(readFileSync(fixture('e2e/expected_e2e.json'), 'utf8'));

test('reverse complement maps ACGTacgt only', () => {
  assert.equal(reverseComplement('AACGTN'), 'NACGTT');
  assert.equal(reverseComplement('acgtRY'), 'YRacgt');
  // One character is one byte (latin-1): a non-ASCII character is kept whole, as Python's str.translate does.
  assert.equal(reverseComplement('AC\u00e9'), '\u00e9GT');
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
  // Characters are bytes (latin-1), so a chunk keeps a non-ASCII character whole.
  assert.deepEqual(translateRecord('u', 'AC\u00e9', 300).chunks, [{ id: 'u_chunk_1', sequence: 'AC\u00e9' }]);
});

test('processRecordBytes streams chunks and frames in order and counts them', () => {
  const seen: string[] = [];
  const latin1 = (b: Uint8Array) => Buffer.from(b).toString('latin1');
  const counts = processRecordBytes('r', Buffer.from('ATGGCCatggccTT', 'latin1'), 10, {
    chunk: (id, seq) => seen.push(`chunk ${id} ${latin1(seq)}`),
    frame: (id, nt, aa) => seen.push(`frame ${id} ${latin1(nt)} ${latin1(aa)}`),
  });
  const expected = translateRecord('r', 'ATGGCCatggccTT', 10);
  assert.deepEqual(counts, { chunks: 2, frames: expected.frames.length });
  assert.ok(expected.frames.length > 2);
  assert.equal(seen.filter((l) => l.startsWith('frame')).length, expected.frames.length);
  assert.equal(seen[0], 'chunk r_chunk_1 ATGGCCatgg');
  // Frames are reported right after their chunk, upper-cased.
  assert.ok(seen[1].startsWith('frame r_chunk_1F1 ATGGCCATGG '));
});

/**
 * The standard genetic code as NCBI publishes it (translation table 1, "The Standard Code",
 * https://www.ncbi.nlm.nih.gov/Taxonomy/Utils/wprintgc.cgi#SG1): codon k is Base1[k] Base2[k] Base3[k]
 * and translates to AAs[k]. Written out here so the oracle below does not reuse the code under test.
 */
const NCBI_TABLE_1 = {
  AAs: 'FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG',
  Base1: 'TTTTTTTTTTTTTTTTCCCCCCCCCCCCCCCCAAAAAAAAAAAAAAAAGGGGGGGGGGGGGGGG',
  Base2: 'TTTTCCCCAAAAGGGGTTTTCCCCAAAAGGGGTTTTCCCCAAAAGGGGTTTTCCCCAAAAGGGG',
  Base3: 'TCAGTCAGTCAGTCAGTCAGTCAGTCAGTCAGTCAGTCAGTCAGTCAGTCAGTCAGTCAGTCAG',
};
const STANDARD_CODE: Record<string, string> = Object.fromEntries(
  [...NCBI_TABLE_1.AAs].map((aa, k) => [NCBI_TABLE_1.Base1[k] + NCBI_TABLE_1.Base2[k] + NCBI_TABLE_1.Base3[k], aa]),
);

test('the codon table is the standard genetic code (NCBI table 1), all 64 codons', () => {
  assert.equal(Object.keys(STANDARD_CODE).length, 64);
  assert.deepEqual({ ...CODON_TABLE }, STANDARD_CODE);
  // Every codon translates through the byte tables, forward and on the reverse strand.
  for (const [codon, aa] of Object.entries(STANDARD_CODE)) {
    assert.equal(translateSixFrames(codon)[0], aa, codon);
    assert.equal(translateSixFrames(reverseComplement(codon))[3], aa, `reverse ${codon}`);
  }
});

/** VirNucPro's units.py restated on strings (dict lookups, slicing): the oracle for the random tests below. */
const COMPLEMENT: Record<string, string> = { A: 'T', C: 'G', G: 'C', T: 'A', a: 't', c: 'g', g: 'c', t: 'a' };
function referenceIdentify(seqid: string, seq: string): [string, string, string][] {
  const rc = [...seq].reverse().map((c) => COMPLEMENT[c] ?? c).join('');
  const out: [string, string, string][] = [];
  [seq, seq, seq, rc, rc, rc].forEach((s, k) => {
    const f = k % 3;
    let protein = '';
    for (let i = f; i < s.length - 2; i += 3) protein += STANDARD_CODE[s.slice(i, i + 3)] ?? '';
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
  // The last alphabet holds the ASCII neighbours of the lowercase letters ('`', 'z', '{', '~'):
  // only a..z may be upper-cased, on the byte-at-a-time and the four-bytes-at-a-time paths alike.
  for (const alphabet of ['ACGTN', 'CCGGGAACacgN', 'GCCAGgccagz{~`']) {
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
