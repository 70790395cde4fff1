// Shard sizes (plan.ts): the default grows each shard's budget with the tokens planned before it, between
// two batches' worth and a cap, so that any input gives enough shards to balance; where shards are cut
// depends on the input and the sizing only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { codingSequence, tempDir } from '../helpers.js';
import { defaultShardSizing, planShards, SHARD_GROWTH, shardBudget, type ShardSizing } from '../../src/pipeline/plan.js';
import { WorkDir } from '../../src/pipeline/workdir.js';
import { seededRandom } from '../../src/util/random.js';

test('the default sizing: at least two batches and 8192 tokens, at most 400000 unless two batches are more, 1/128 of the work before', () => {
  assert.deepEqual(defaultShardSizing(4096), { minTokens: 8192, maxTokens: 400_000, growthDivisor: 128 });
  assert.deepEqual(defaultShardSizing(1000), { minTokens: 8192, maxTokens: 400_000, growthDivisor: 128 });
  // --batch-tokens auto on a large GPU: shards of two full batches, never smaller.
  assert.deepEqual(defaultShardSizing(240_000), { minTokens: 480_000, maxTokens: 480_000, growthDivisor: 128 });
  assert.equal(SHARD_GROWTH.growthDivisor, 128);

  const s = defaultShardSizing(4096);
  assert.equal(shardBudget(s, 0), 8192);
  assert.equal(shardBudget(s, 128 * 8192), 8192);
  assert.equal(shardBudget(s, 128 * 10_000 + 127), 10_000);
  assert.equal(shardBudget(s, 1e9), 400_000);
  // --shard-tokens N: every shard N, whatever was planned before.
  assert.equal(shardBudget(20_000, 0), 20_000);
  assert.equal(shardBudget(20_000, 1e9), 20_000);
});

/** Coding reads of 300 bp (several stop-free frames each), seeded. */
function reads(n: number): string {
  const random = seededRandom(11);
  return Array.from({ length: n }, (_, i) => `>r${i}\n${codingSequence(100, random)}\n`).join('');
}

async function plan(input: string, sizing: ShardSizing, name: string) {
  const workDir = new WorkDir(join(input, '..', name));
  await workDir.reset();
  return planShards({ input, expectedLength: 300, workDir, shardTokens: sizing, shardCost: () => 1 });
}

test('growing sizes: each shard closes at its budget from the tokens before it, through all three regimes', async () => {
  const dir = tempDir();
  const input = join(dir, 'reads.fa');
  writeFileSync(input, reads(600));
  const sizing = { minTokens: 1000, maxTokens: 6000, growthDivisor: 4 };
  const p = await plan(input, sizing, 'a');
  const tokens = p.shards.map((s) => s.nucleotideTokens + s.proteinTokens);
  const total = tokens.reduce((a, b) => a + b, 0);
  assert.ok(total > 2 * sizing.maxTokens * sizing.growthDivisor, `input large enough to reach the cap (${total} tokens)`);

  let before = 0;
  const budgets: number[] = [];
  for (const [i, t] of tokens.entries()) {
    const budget = shardBudget(sizing, before);
    budgets.push(budget);
    // A 300 bp frame is at most 77 + 102 tokens: a shard closes with the frame that reaches its budget.
    if (i < tokens.length - 1) assert.ok(t >= budget && t < budget + 180, `shard ${i + 1}: ${t} tokens for a budget of ${budget}`);
    else assert.ok(t < budget + 180, 'the last shard holds the rest');
    before += t;
  }
  assert.ok(budgets.some((b) => b === sizing.minTokens), 'small shards first');
  assert.ok(budgets.some((b) => b > sizing.minTokens && b < sizing.maxTokens), 'then growing');
  assert.ok(budgets.some((b) => b === sizing.maxTokens), 'then capped');
  for (let i = 1; i < budgets.length; i++) assert.ok(budgets[i] >= budgets[i - 1], 'budgets never shrink');
});

test('shard boundaries depend on the input and the sizing only: a second plan and the gzip of the input cut the same shards', async () => {
  const dir = tempDir();
  const input = join(dir, 'reads.fa');
  const text = reads(300);
  writeFileSync(input, text);
  writeFileSync(`${input}.gz`, gzipSync(text));
  const sizing = { minTokens: 2000, maxTokens: 8000, growthDivisor: 8 };
  const a = await plan(input, sizing, 'a');
  const b = await plan(input, sizing, 'b');
  const gz = await plan(`${input}.gz`, sizing, 'gz');
  assert.ok(a.shards.length >= 10, `${a.shards.length} shards`);
  const cut = (p: typeof a) => p.shards.map((s) => [s.frames, s.inputSha256]);
  assert.deepEqual(cut(b), cut(a));
  assert.deepEqual(cut(gz), cut(a), 'sizes follow the frames planned, not the file size');
  // A fixed budget as large as the cap cuts fewer, larger shards: the sizing is what sets the boundaries.
  const fixed = await plan(input, 8000, 'fixed');
  assert.ok(fixed.shards.length < a.shards.length);
});
