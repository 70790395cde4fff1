import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  comparePythonStrings,
  formatHighestScoreCsv,
  formatNumpyFloat32,
  highestScoreRows,
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
