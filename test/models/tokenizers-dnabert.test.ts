import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Tokenizer as RustTokenizer } from 'tokenizers';
import { loadDnaTokenizer } from '../../src/models/tokenizers/dnabert.js';
import { InputError } from '../../src/util/errors.js';
import { fixture, tempDir } from '../helpers.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const expected = JSON.parse(readFileSync(fixture('dnabert-s/expected.json'), 'utf8')) as {
  sequences: Array<{ label: string; sequence: string; token_ids: number[] }>;
  tokenizer_edge_cases_not_reachable_from_virnucpro: Array<{ text: string; token_ids: number[]; real_tokenizer_ids: number[] }>;
  real_tokenizer_ids: Record<string, number[]>;
};
const TINY = fixture('dnabert-s/model/tokenizer.json');
const REAL = fixture('dnabert-s/real-tokenizer.json');

test('tiny vocabulary: ids equal the fixture ids, edge cases included', async () => {
  const tok = await loadDnaTokenizer(TINY);
  for (const s of expected.sequences) assert.deepEqual(Array.from(tok.encode(s.sequence)), s.token_ids, s.label);
  for (const e of expected.tokenizer_edge_cases_not_reachable_from_virnucpro) {
    assert.deepEqual(Array.from(tok.encode(e.text)), e.token_ids, JSON.stringify(e.text.slice(0, 20)));
  }
  assert.equal(tok.clsId, 1);
  assert.equal(tok.sepId, 2);
  assert.equal(tok.unkId, 0);
});

test('real DNABERT-2 vocabulary: ids equal the fixture ids, edge cases included', async () => {
  const tok = await loadDnaTokenizer(REAL);
  assert.equal(tok.vocabSize, 4096);
  for (const s of expected.sequences) {
    const want = expected.real_tokenizer_ids[s.label];
    if (want) assert.deepEqual(Array.from(tok.encode(s.sequence)), want, s.label);
  }
  for (const e of expected.tokenizer_edge_cases_not_reachable_from_virnucpro) {
    assert.deepEqual(Array.from(tok.encode(e.text)), e.real_tokenizer_ids, JSON.stringify(e.text.slice(0, 20)));
  }
});

test('same ids as the Rust tokenizers library on random texts (N, lowercase, spaces, other symbols, long inputs)', async () => {
  const alphabet = 'ACGTACGTACGTNacgtn RYKM-*.\tX';
  for (const path of [TINY, REAL]) {
    const ours = await loadDnaTokenizer(path);
    const rust = RustTokenizer.fromFile(path);
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 300; i++) {
      const len = Math.floor(rnd() * (i % 10 === 0 ? 4000 : 300));
      let s = '';
      for (let k = 0; k < len; k++) s += alphabet[Math.floor(rnd() * (rnd() < 0.9 ? 4 : alphabet.length))];
      const want = (await rust.encode(s)).getIds();
      assert.deepEqual(Array.from(ours.encode(s)), Array.from(want), JSON.stringify(s.slice(0, 40)));
    }
  }
});

test('a missing or malformed tokenizer.json is an InputError naming the file', async () => {
  const dir = tempDir();
  const bad = join(dir, 'tokenizer.json');
  writeFileSync(bad, '{"model": ');
  await assert.rejects(loadDnaTokenizer(bad), (e: unknown) => e instanceof InputError && e.message.includes(bad));
  await assert.rejects(loadDnaTokenizer(join(dir, 'nope.json')), (e: unknown) => e instanceof InputError && e.message.includes('nope.json'));
});
