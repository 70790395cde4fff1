import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ESM_ALPHABET, ESM_CLS_IDX, ESM_EOS_IDX, ESM_MASK_IDX, ESM_PAD_IDX, ESM_UNK_IDX, encodeProtein } from '../../src/models/tokenizers/esm.js';
import { InputError } from '../../src/util/errors.js';
import { fixture } from '../helpers.js';

const expected = JSON.parse(readFileSync(fixture('esm2/expected.json'), 'utf8')) as {
  alphabet: { all_toks: string[]; cls_idx: number; padding_idx: number; eos_idx: number; unk_idx: number; mask_idx: number };
  sequences: Array<{ label: string; sequence: string; tokens: number[] }>;
  per_token_debug: Array<{ tokens: number[]; sequence?: string; input?: string }>;
};

test('the alphabet and special indices are fair-esm ESM-1b', () => {
  assert.deepEqual(ESM_ALPHABET, expected.alphabet.all_toks);
  assert.equal(ESM_CLS_IDX, expected.alphabet.cls_idx);
  assert.equal(ESM_PAD_IDX, expected.alphabet.padding_idx);
  assert.equal(ESM_EOS_IDX, expected.alphabet.eos_idx);
  assert.equal(ESM_UNK_IDX, expected.alphabet.unk_idx);
  assert.equal(ESM_MASK_IDX, expected.alphabet.mask_idx);
});

test('every fixture protein encodes to the batch converter tokens', () => {
  for (const s of expected.sequences) assert.deepEqual(Array.from(encodeProtein(s.sequence)), s.tokens, s.label);
});

test('special tokens written in the text are single tokens; whitespace between tokens is dropped', () => {
  assert.deepEqual(Array.from(encodeProtein('M<mask>K V')), [0, 20, 32, 15, 7, 2]);
  assert.deepEqual(Array.from(encodeProtein('<unk>X')), [0, 3, 24, 2]);
  assert.deepEqual(Array.from(encodeProtein('')), [0, 2]);
});

test('characters outside the alphabet are refused, as fair-esm raises KeyError', () => {
  for (const bad of ['MKa', 'MK*', 'MK1', 'M<foo>', 'MKé']) {
    assert.throws(() => encodeProtein(bad, 'p1'), (e: unknown) => e instanceof InputError && /p1/.test(e.message) && /position/.test(e.message), bad);
  }
});
