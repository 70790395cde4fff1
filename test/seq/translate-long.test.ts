/**
 * Chunks longer than the translation scratch buffers start with (1024 nucleotides,
 * 342 amino acids per frame): the buffers must grow, whatever the exact length.
 * Its own file, so the scratch memory starts at its initial size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { identifyFrames } from '../../src/seq/translate.js';
import { translateRecord } from '../../src/seq/record.js';

/** GCC repeats have no T in either strand, so all six frames are stop-free. */
const stopFree = (n: number) => 'GCC'.repeat(Math.ceil(n / 3)).slice(0, n);

test('stop-free chunks of 1024 to 3001 nucleotides keep every frame whole', () => {
  // 1024 first: just past the initial buffers; then longer ones, each forcing a further growth.
  for (const n of [1024, 1030, 2100, 3001, 1500]) {
    const seq = stopFree(n);
    const frames = identifyFrames('s', seq);
    assert.deepEqual(frames.map((f) => f.id), ['sF1', 'sF2', 'sF3', 'sR1', 'sR2', 'sR3'], `length ${n}`);
    frames.forEach((f, k) => {
      const offset = k % 3;
      const codons = Math.floor((n - offset) / 3);
      assert.equal(f.protein.length, codons, `${f.id} protein, length ${n}`);
      assert.equal(f.nucleotide.length, Math.min(n, offset + 1 + 3 * codons) - offset, `${f.id} nucleotides, length ${n}`);
    });
    assert.equal(frames[0].protein, 'A'.repeat(Math.floor(n / 3)));
    assert.equal(frames[0].nucleotide, seq.slice(0, Math.min(n, 1 + 3 * Math.floor(n / 3))));
    // The same through the upper-casing path, on a lowercase record in one chunk.
    const upper = translateRecord('r', seq.toLowerCase(), 5000).frames;
    assert.deepEqual(upper.map((f) => [f.nucleotide, f.protein]), frames.map((f) => [f.nucleotide, f.protein]), `upper-cased, length ${n}`);
  }
});
