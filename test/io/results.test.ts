import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  comparePythonStrings,
  formatHighestScoreCsv,
  formatNumpyFloat32,
  formatPredictionRow,
  highestScoreRows,
  modifiedId,
  PREDICTION_RESULTS_HEADER,
  shortestDigitsExact,
  shortestDigitsFast,
  PredictionResultsWriter,
  predictionLabel,
  writeHighestScoreCsv,
  type Prediction,
} from '../../src/io/results.js';
import { fixture, tempDir } from '../helpers.js';

test('str(numpy.float32) examples from NOTES.md', () => {
  const cases: [number, string][] = [
    [0.5, '0.5'],
    [1.0, '1.0'],
    [0.99999999, '1.0'],
    [0.0001, '1e-04'],
    [0.00012345, '0.00012345'],
    [1.2345e-5, '1.2345e-05'],
    [4.6158545e-19, '4.6158545e-19'],
    [1e16, '1e+16'],
    [1e15, '1000000000000000.0'],
    [3.4e38, '3.4e+38'],
    [0.5347401, '0.5347401'],
    [0, '0.0'],
    [-0, '-0.0'],
    [-2.5, '-2.5'],
    [NaN, 'nan'],
    [Infinity, 'inf'],
    [-Infinity, '-inf'],
  ];
  for (const [x, s] of cases) assert.equal(formatNumpyFloat32(x), s, String(x));
});

test('str(numpy.float32) for 2500 float32 values printed by numpy (random, probabilities, subnormals, ties)', () => {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const lines = readFileSync(new URL('./data/numpy_float32_str.tsv', import.meta.url), 'utf8').split('\n');
  let checked = 0;
  for (const line of lines) {
    if (line === '' || line.startsWith('#')) continue;
    const [hex, expected] = line.split('\t');
    u[0] = parseInt(hex, 16);
    assert.equal(formatNumpyFloat32(f[0]), expected, `bits ${hex}`);
    checked++;
  }
  assert.ok(checked >= 2500);
});

/** (bits, numpy's text) of every value in a numpy oracle file. */
function numpyCases(file: string): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  for (const line of readFileSync(new URL(`./data/${file}`, import.meta.url), 'utf8').split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const [hex, text] = line.split('\t');
    out.push([parseInt(hex, 16), text]);
  }
  return out;
}

const bitsToFloat = (bits: number): number => new Float32Array(Uint32Array.of(bits).buffer)[0];

/** The significant digits and the decimal exponent of the first one, read off numpy's text. */
function numpyDigits(text: string): { digits: string; exp10: number } {
  const t = text.replace(/^-/, '');
  const [mantissa, exp] = t.split('e');
  const [int, frac = ''] = mantissa.split('.');
  const all = int + frac;
  const lead = all.length - all.replace(/^0+/, '').length;
  return { digits: all.slice(lead).replace(/0+$/, ''), exp10: (exp === undefined ? 0 : Number(exp)) + int.length - 1 - lead };
}

test('str(numpy.float32) at the hard corners: powers of two, ties on the interval ends, zero padding', () => {
  const cases = numpyCases('numpy_float32_edges.tsv');
  assert.ok(cases.length > 2500);
  for (const [bits, text] of cases) assert.equal(formatNumpyFloat32(bitsToFloat(bits)), text, `bits ${bits.toString(16)}`);
});

test('both digit paths agree with numpy: the exact one always, the fast one whenever it answers (and it usually does)', () => {
  let fastAnswers = 0;
  const random = numpyCases('numpy_float32_str.tsv');
  for (const [bits, text] of [...random, ...numpyCases('numpy_float32_edges.tsv')]) {
    const ax = Math.abs(bitsToFloat(bits));
    if (ax === 0 || !Number.isFinite(ax)) continue;
    const want = numpyDigits(text);
    assert.deepEqual(shortestDigitsExact(ax), want, `exact path, bits ${bits.toString(16)} (${text})`);
    const fast = shortestDigitsFast(ax);
    if (fast !== null) assert.deepEqual(fast, want, `fast path, bits ${bits.toString(16)} (${text})`);
  }
  for (const [bits] of random) if (shortestDigitsFast(Math.abs(bitsToFloat(bits))) !== null) fastAnswers++;
  assert.ok(fastAnswers > 0.9 * random.length, `the fast path answered ${fastAnswers} of ${random.length}`);
});

test('the fast path answers every 9-digit value, and leaves to the exact path what its comment says it cannot do', () => {
  const nineDigits = numpyCases('numpy_float32_str.tsv').filter(([, text]) => numpyDigits(text).digits.length === 9);
  assert.ok(nineDigits.length > 10);
  for (const [bits, text] of nineDigits) assert.deepEqual(shortestDigitsFast(Math.abs(bitsToFloat(bits))), numpyDigits(text), text);
  // Subnormals, and powers of two (their interval is narrower below than above).
  for (const x of [bitsToFloat(1), bitsToFloat(0x00400123), 0.5, 2 ** -20, 2 ** 100]) assert.equal(shortestDigitsFast(x), null, String(x));
  // The nearest 7-digit decimal lies exactly halfway between two float32 values: above x, below x, and next to an odd x.
  for (const x of [33562408, 33594312, 33574372]) {
    assert.equal(shortestDigitsFast(x), null, String(x));
    assert.deepEqual(shortestDigitsExact(x), numpyDigits(formatNumpyFloat32(x)), String(x));
  }
});

test('positional numbers are padded with zeros up to the decimal point', () => {
  assert.equal(formatNumpyFloat32(120), '120.0');
  assert.equal(formatNumpyFloat32(1200000), '1200000.0');
  assert.equal(formatNumpyFloat32(12), '12.0');
  assert.equal(formatNumpyFloat32(12.5), '12.5');
  assert.equal(formatNumpyFloat32(134217792), '134217800.0');
});

test('prediction_results_txt_fields of every MLP fixture case', () => {
  const mlp = JSON.parse(readFileSync(fixture('mlp/expected.json'), 'utf8'));
  for (const c of mlp.cases) {
    const p: Prediction = { id: c.name, score1: c.softmax[0], score2: c.softmax[1] };
    assert.deepEqual([formatNumpyFloat32(p.score1), formatNumpyFloat32(p.score2)], c.prediction_results_txt_fields, c.name);
    assert.equal(predictionLabel(p), c.prediction, c.name);
  }
});

function e2ePredictions(): Prediction[] {
  const text = readFileSync(fixture('e2e/input_merged/prediction_results.txt'), 'utf8');
  return text
    .trimEnd()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [id, , s1, s2] = line.split('\t');
      return { id, score1: Math.fround(Number(s1)), score2: Math.fround(Number(s2)) };
    });
}

test('prediction_results.txt of the e2e run is rewritten byte for byte', () => {
  const dir = tempDir();
  const path = join(dir, 'prediction_results.txt');
  const w = new PredictionResultsWriter(path);
  for (const p of e2ePredictions()) w.write(p);
  w.commit();
  assert.equal(readFileSync(path, 'utf8'), readFileSync(fixture('e2e/input_merged/prediction_results.txt'), 'utf8'));
});

test('prediction_results_highestscore.csv of the e2e run: per-chunk groups, pandas order, True/False', async () => {
  const dir = tempDir();
  const path = join(dir, 'prediction_results_highestscore.csv');
  await writeHighestScoreCsv(path, e2ePredictions());
  const expected = readFileSync(fixture('e2e/input_merged/prediction_results_highestscore.csv'), 'utf8');
  assert.equal(readFileSync(path, 'utf8'), expected);
  assert.match(expected, /virus_row_but_group_false_chunk_1\tFalse/);
});

test('groups sort by code point (chunk_10 before chunk_2; astral characters after U+FFFF)', () => {
  const rows = highestScoreRows([
    { id: 'x_chunk_2F1', score1: 0.6, score2: 0.4 },
    { id: 'x_chunk_10R3', score1: 0.4, score2: 0.6 },
    { id: 'x_chunk_10F1', score1: 0.9, score2: 0.1 },
    { id: '\u{1F600}_chunk_1F1', score1: 0.5, score2: 0.5 },
    { id: '\uFFFD_chunk_1F1', score1: 0.5, score2: 0.5 },
  ]);
  assert.deepEqual(
    rows.map((r) => [r.modifiedId, r.isVirus]),
    [
      ['x_chunk_10', false], // max(score2)=0.6 < max(score1)=0.9
      ['x_chunk_2', false],
      ['\uFFFD_chunk_1', true], // tie counts as virus (>=)
      ['\u{1F600}_chunk_1', true],
    ],
  );
  assert.ok(comparePythonStrings('\u{10000}', '\uFFFF') > 0);
  assert.ok(comparePythonStrings('a', 'ab') < 0);
  assert.equal(comparePythonStrings('abc', 'abc'), 0);
  assert.equal(formatHighestScoreCsv([{ modifiedId: 'a"b', isVirus: true }]), 'Modified_ID\tIs_Virus\n"a""b"\tTrue\n');
});

test('a tie between the two probabilities is labelled others (argmax takes the first)', () => {
  assert.equal(predictionLabel({ id: 'a', score1: 0.5, score2: 0.5 }), 'others');
});

test('Python string order: astral characters sort after U+E000..U+FFFF, which UTF-16 order gets wrong', () => {
  // Ascending code points; UTF-16 units would put the astral ones (surrogates D800..DFFF) before U+E000.
  const ordered = ['', 'a', 'a\u0000', 'ab', '\u00e9', '\ud7ff', '\ue000', '\uf8ff', '\uffff', '\u{10000}', '\u{1f600}', '\u{10ffff}'];
  for (let i = 0; i < ordered.length; i++) {
    for (let j = 0; j < ordered.length; j++) {
      const c = comparePythonStrings(ordered[i], ordered[j]);
      assert.equal(Math.sign(c), Math.sign(i - j), `${JSON.stringify(ordered[i])} vs ${JSON.stringify(ordered[j])}`);
    }
  }
  // Same kind of unit: the difference of the units decides, whichever string is longer.
  assert.ok(comparePythonStrings('\u{1f600}z', '\u{1f601}') < 0);
  assert.ok(comparePythonStrings('x\ue000', 'x\u{10000}') < 0);
  assert.ok(comparePythonStrings('x\u{10000}', 'x\ue000') > 0);
  // The verdict rows come out in that order.
  const ids = ['\u{10000}', '\uffff', '\ue000', '\ud7ff', 'z'];
  const rows = highestScoreRows(ids.map((id) => ({ id: `${id}_chunk_1F1`, score1: 0.1, score2: 0.9 })));
  assert.deepEqual(rows.map((r) => r.modifiedId), ['z', '\ud7ff', '\ue000', '\uffff', '\u{10000}'].map((id) => `${id}_chunk_1`));
});

test('the group key drops the last two code points (an astral character counts as one)', () => {
  assert.equal(modifiedId('x_chunk_1F1'), 'x_chunk_1');
  assert.equal(modifiedId('a\u{1f600}'), '');
  assert.equal(modifiedId('ab\u{1f600}'), 'a');
  assert.equal(modifiedId('\u{1f600}\u{1f600}F1'), '\u{1f600}\u{1f600}');
  assert.equal(modifiedId('F'), '');
  assert.equal(modifiedId(''), '');
});

test('the results writer: the header line first (no comment lines), preformatted rows, nothing on disk until commit', () => {
  const dir = tempDir();
  const path = join(dir, 'prediction_results.txt');
  const w = new PredictionResultsWriter(path);
  w.write({ id: 'a_chunk_1F1', score1: 0.25, score2: 0.75 });
  w.writeFormatted({ id: 'b_chunk_1R2', score1: 0.5, score2: 0.5 }, 'X1', 'X2');
  assert.ok(!existsSync(path));
  w.commit();
  assert.equal(
    readFileSync(path, 'utf8'),
    'Sequence_ID\tPrediction\tscore1\tscore2\na_chunk_1F1\tvirus\t0.25\t0.75\nb_chunk_1R2\tothers\tX1\tX2\n',
  );
  assert.equal(formatPredictionRow({ id: 'c', score1: 0.9, score2: 0.1 }), 'c\tothers\t0.9\t0.1');
  assert.equal(PREDICTION_RESULTS_HEADER, 'Sequence_ID\tPrediction\tscore1\tscore2');

  const aborted = join(dir, 'aborted.txt');
  const a = new PredictionResultsWriter(aborted);
  a.write({ id: 'x', score1: 1, score2: 0 });
  a.abort();
  assert.deepEqual(readdirSync(dir).sort(), ['prediction_results.txt']);
});

test('labels compare the float32 values: virus only when score2 is strictly larger', () => {
  assert.equal(predictionLabel({ id: 'a', score1: 0.4, score2: 0.6 }), 'virus');
  assert.equal(predictionLabel({ id: 'a', score1: 0.6, score2: 0.4 }), 'others');
  // Two doubles that round to the same float32 are a tie.
  assert.equal(predictionLabel({ id: 'a', score1: 0.5, score2: 0.5 + 1e-12 }), 'others');
});

test('verdicts: max(score2) >= max(score1) over the group, compared as printed (a printed tie is virus)', () => {
  const rows = highestScoreRows([
    { id: 'g_chunk_1F1', score1: 0.7, score2: 0.3 },
    { id: 'g_chunk_1R1', score1: 0.2, score2: 0.8 },
    { id: 'h_chunk_1F2', score1: 0.9, score2: 0.1 },
    { id: 'h_chunk_1F3', score1: 0.1, score2: 0.85 },
    // Distinct float32 values that print alike in neither case; exactly equal maxima are a tie.
    { id: 't_chunk_1F1', score1: 0.6, score2: 0.4 },
    { id: 't_chunk_1R3', score1: 0.4, score2: 0.6 },
  ]);
  assert.deepEqual(
    rows.map((r) => [r.modifiedId, r.isVirus]),
    [
      ['g_chunk_1', true], // 0.8 >= 0.7
      ['h_chunk_1', false], // 0.85 < 0.9
      ['t_chunk_1', true], // 0.6 >= 0.6
    ],
  );
  assert.equal(formatHighestScoreCsv([]), 'Modified_ID\tIs_Virus\n');
  assert.equal(formatHighestScoreCsv([{ modifiedId: 'q', isVirus: false }]), 'Modified_ID\tIs_Virus\nq\tFalse\n');
});
