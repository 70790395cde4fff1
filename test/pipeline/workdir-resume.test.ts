/**
 * The work folder (workdir.ts): what --resume trusts and what it refuses. A run
 * resumes only with the same input bytes and the same result-changing
 * parameters; plan.json is read defensively; damaged files are found by their
 * sha256; stale files are removed by name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers.js';
import {
  assertResumable,
  describeDamage,
  fingerprintDifferences,
  outputDirExists,
  PLAN_FORMAT_VERSION,
  workFolderDamaged,
  WorkDir,
  type RunFingerprint,
  type RunPlan,
} from '../../src/pipeline/workdir.js';
import { sha256Hex } from '../../src/util/hash.js';
import { InputError, UsageError } from '../../src/util/errors.js';

const FINGERPRINT: RunFingerprint = {
  planFormat: PLAN_FORMAT_VERSION,
  inputSha256: 'a'.repeat(64),
  expectedLength: 500,
  modelsSha256: 'b'.repeat(64),
  precision: 'fp32',
  batchTokens: 8192,
  minLength: 0,
  shardTokens: 100000,
};

test('--resume refuses a changed input even when every parameter is the same', () => {
  const now = { ...FINGERPRINT, inputSha256: 'c'.repeat(64) };
  assert.throws(
    () => assertResumable(FINGERPRINT, now, '/runs/x'),
    (e: unknown) =>
      e instanceof UsageError &&
      e.message === `cannot resume the run in /runs/x: the input file changed since it was started:\n  inputSha256: ${'a'.repeat(64)} (interrupted run) vs ${'c'.repeat(64)} (now)` &&
      /--force to start over/.test(e.hint ?? ''),
  );
});

test('--resume refuses any changed result parameter, naming each; identical fingerprints pass', () => {
  assert.doesNotThrow(() => assertResumable(FINGERPRINT, { ...FINGERPRINT }, '/o'));
  for (const [key, value] of [
    ['expectedLength', 300],
    ['modelsSha256', 'd'.repeat(64)],
    ['precision', 'fp16'],
    ['batchTokens', 4096],
    ['shardTokens', 5000],
  ] as const) {
    const now = { ...FINGERPRINT, [key]: value };
    assert.throws(
      () => assertResumable(FINGERPRINT, now, '/o'),
      (e: unknown) =>
        e instanceof UsageError &&
        e.message === `cannot resume the run in /o: the parameters changed since it was started:\n  ${key}: ${String(FINGERPRINT[key])} (interrupted run) vs ${value} (now)`,
      key,
    );
  }
  // The input named first when it changed together with parameters; every difference listed.
  const both = { ...FINGERPRINT, inputSha256: 'e'.repeat(64), expectedLength: 300 };
  assert.throws(() => assertResumable(FINGERPRINT, both, '/o'), /the input file changed since it was started:\n {2}inputSha256: .*\n {2}expectedLength: 500 \(interrupted run\) vs 300 \(now\)$/);
  // A plan written by another version is named as such.
  assert.throws(
    () => assertResumable({ ...FINGERPRINT, planFormat: PLAN_FORMAT_VERSION - 1 }, FINGERPRINT, '/o'),
    (e: unknown) => e instanceof UsageError && e.message.startsWith('cannot resume the run in /o: it was planned by another version of virnucpro:\n  planFormat: '),
  );
  assert.deepEqual(fingerprintDifferences(FINGERPRINT, FINGERPRINT), []);
  assert.deepEqual(fingerprintDifferences(FINGERPRINT, { ...FINGERPRINT, precision: 'fp16' }), ['precision: fp32 (interrupted run) vs fp16 (now)']);
  // shardTokens may be the growing sizes of `auto` (an object, read back from plan.json): compared by value, shown as JSON.
  const auto = { ...FINGERPRINT, shardTokens: { minTokens: 8192, maxTokens: 400000, growthDivisor: 128 } };
  assert.deepEqual(fingerprintDifferences(auto, JSON.parse(JSON.stringify(auto))), []);
  assert.deepEqual(fingerprintDifferences(FINGERPRINT, auto), [
    'shardTokens: 100000 (interrupted run) vs {"minTokens":8192,"maxTokens":400000,"growthDivisor":128} (now)',
  ]);
});

test('the work folder lives in <out>/work, with plan.json and records.tsv', () => {
  const w = new WorkDir(join('/runs', 'x'));
  assert.equal(w.dir, join('/runs', 'x', 'work'));
  assert.equal(w.planPath, join('/runs', 'x', 'work', 'plan.json'));
  assert.equal(w.recordsPath, join('/runs', 'x', 'work', 'records.tsv'));
  assert.equal(w.path('shard-000001.tsv'), join('/runs', 'x', 'work', 'shard-000001.tsv'));
});

/** A plan whose records.tsv and two shard inputs exist in the work folder with the recorded checksums. */
async function workFolderWithPlan(): Promise<{ w: WorkDir; plan: RunPlan }> {
  const w = new WorkDir(tempDir());
  await w.reset();
  const files: Record<string, string> = {
    'records.tsv': 'index\tid\tlength\tchunks\tframes\tstatus\n0\ta\t30\t1\t6\tok\n',
    'shard-000001.tsv': '0\ta_chunk_1F1\tGCC\tA\n',
    'shard-000002.tsv': '0\ta_chunk_1F2\tCCG\tP\n',
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(w.path(name), text);
  const shard = (index: number) => ({
    index,
    frames: 1,
    firstRecord: 0,
    lastRecord: 0,
    nucleotideTokens: 3,
    proteinTokens: 3,
    cost: 1,
    inputSha256: sha256Hex(files[`shard-00000${index}.tsv`]),
  });
  const plan: RunPlan = {
    fingerprint: FINGERPRINT,
    shards: [shard(1), shard(2)],
    counts: { records: 1, chunks: 1, frames: 2, recordsWithoutFrames: { empty: 0, shorterThanCodon: 0, noStopFreeFrame: 0, tooShort: 0 }, inputBases: 30 },
    recordsFile: { sha256: sha256Hex(files['records.tsv']), rows: 1 },
    input: { format: 'fasta' },
  };
  await w.writePlan(plan);
  return { w, plan };
}

test('plan.json round-trips; a missing one is missing, a damaged one is unreadable with the reason', async () => {
  const { w, plan } = await workFolderWithPlan();
  assert.deepEqual(await w.readPlan(), { state: 'found', plan });
  assert.ok(readFileSync(w.planPath, 'utf8').endsWith('}\n'));

  const cases: Array<[string, unknown, string]> = [
    ['no fingerprint', { ...plan, fingerprint: undefined }, 'no fingerprint'],
    ['null fingerprint', { ...plan, fingerprint: null }, 'no fingerprint'],
    ['a JSON null', null, 'no fingerprint'],
    ['shards not a list', { ...plan, shards: {} }, 'malformed shard list'],
    ['shard numbered out of order', { ...plan, shards: [plan.shards[1], plan.shards[0]] }, 'malformed shard list'],
    ['shard without a frame count', { ...plan, shards: [{ ...plan.shards[0], frames: 'x' }, plan.shards[1]] }, 'malformed shard list'],
    ['shard without a checksum', { ...plan, shards: [plan.shards[0], { ...plan.shards[1], inputSha256: 5 }] }, 'malformed shard list'],
    ['a null shard', { ...plan, shards: [null] }, 'malformed shard list'],
    ['no records entry', { ...plan, recordsFile: undefined }, 'malformed records.tsv entry'],
    ['records checksum not a string', { ...plan, recordsFile: { sha256: 1, rows: 1 } }, 'malformed records.tsv entry'],
    ['records count disagrees', { ...plan, recordsFile: { ...plan.recordsFile, rows: 2 } }, 'malformed records.tsv entry'],
    ['no counts', { ...plan, counts: undefined }, 'malformed records.tsv entry'],
  ];
  for (const [what, json, reason] of cases) {
    writeFileSync(w.planPath, JSON.stringify(json));
    assert.deepEqual(await w.readPlan(), { state: 'unreadable', reason }, what);
  }
  writeFileSync(w.planPath, '{"fingerprint": {');
  assert.deepEqual(await w.readPlan(), { state: 'unreadable', reason: 'not valid JSON' });
  // A plan of another format is returned as it is, for the fingerprint check to name the version.
  const old = { fingerprint: { ...FINGERPRINT, planFormat: 1 }, shards: 'whatever' };
  writeFileSync(w.planPath, JSON.stringify(old));
  assert.deepEqual(await w.readPlan(), { state: 'found', plan: old });
  // An empty shard list is a valid plan (an input without frames).
  const empty = { ...plan, shards: [] };
  writeFileSync(w.planPath, JSON.stringify(empty));
  assert.deepEqual(await w.readPlan(), { state: 'found', plan: empty });

  const fresh = new WorkDir(tempDir());
  assert.deepEqual(await fresh.readPlan(), { state: 'missing' });
});

test('damage is found by checksum: every missing or modified file, records.tsv first', async () => {
  const { w, plan } = await workFolderWithPlan();
  assert.deepEqual(await w.findDamage(plan), []);
  writeFileSync(w.path('shard-000002.tsv'), '0\ta_chunk_1F2\tCCG\tQ\n');
  writeFileSync(w.recordsPath, 'index\tid\tlength\tchunks\tframes\tstatus\n');
  rmSync(w.path('shard-000001.tsv'));
  const damage = await w.findDamage(plan);
  assert.deepEqual(damage, [
    { file: 'records.tsv', shard: undefined, reason: 'modified' },
    { file: 'shard-000001.tsv', shard: 1, reason: 'missing' },
    { file: 'shard-000002.tsv', shard: 2, reason: 'modified' },
  ]);
  assert.equal(describeDamage(damage), 'records.tsv modified, shard-000001.tsv missing, shard-000002.tsv modified');
  const many = Array.from({ length: 7 }, (_, i) => ({ file: `shard-00000${i + 1}.tsv`, shard: i + 1, reason: 'missing' as const }));
  assert.equal(
    describeDamage(many),
    'shard-000001.tsv missing, shard-000002.tsv missing, shard-000003.tsv missing, shard-000004.tsv missing, shard-000005.tsv missing, and 2 more',
  );
  assert.equal(describeDamage(many.slice(0, 5)).endsWith('shard-000005.tsv missing'), true);
});

test('results are removed by shard or all at once; files of shards beyond the plan are removed; temporaries too', async () => {
  const { w } = await workFolderWithPlan();
  const touch = (...names: string[]) => names.forEach((n) => writeFileSync(w.path(n), 'x'));
  touch('shard-000001.result', 'shard-000002.result', 'shard-000003.result', 'shard-000003.tsv', 'shard-000010.tsv', 'notes.txt', 'a.tmp', 'shard-000002.result.tmp');
  // Files that only look like ours are never touched.
  const lookalikes = ['old-shard-000001.result', 'shard-000007.result.bak', 'x-shard-000009.tsv', 'shard-000009.tsv.orig'];
  touch(...lookalikes);
  const names = () => readdirSync(w.dir).filter((n) => !lookalikes.includes(n)).sort();

  await w.removeResults([2]);
  assert.ok(!names().includes('shard-000002.result'));
  assert.ok(names().includes('shard-000001.result') && names().includes('shard-000003.result'));
  // A shard without a result file is no error.
  await w.removeResults([5]);

  await w.removeShardsAbove(2);
  assert.deepEqual(names(), ['a.tmp', 'notes.txt', 'plan.json', 'records.tsv', 'shard-000001.result', 'shard-000001.tsv', 'shard-000002.result.tmp', 'shard-000002.tsv']);

  await w.removeTemporaries();
  assert.deepEqual(names(), ['notes.txt', 'plan.json', 'records.tsv', 'shard-000001.result', 'shard-000001.tsv', 'shard-000002.tsv']);

  touch('shard-000002.result');
  await w.removeResults('all');
  assert.deepEqual(names(), ['notes.txt', 'plan.json', 'records.tsv', 'shard-000001.tsv', 'shard-000002.tsv']);
  assert.deepEqual(readdirSync(w.dir).filter((n) => lookalikes.includes(n)).sort(), [...lookalikes].sort());

  await w.reset();
  assert.deepEqual(readdirSync(w.dir), []);
  // reset() also creates the output directory itself when it does not exist yet.
  const fresh = new WorkDir(join(tempDir(), 'new-out'));
  await fresh.reset();
  assert.deepEqual(readdirSync(fresh.dir), []);
  // Without a work folder these are no-ops, not errors.
  const none = new WorkDir(join(tempDir(), 'nothing-here'));
  await none.removeTemporaries();
  await none.removeResults('all');
  await none.removeShardsAbove(0);
  assert.ok(!existsSync(none.dir));
});

test('the errors say what is wrong and how to go on', () => {
  const exists = outputDirExists('/runs/x');
  assert.ok(exists instanceof InputError);
  assert.equal(exists.message, 'output directory /runs/x already exists');
  assert.match(exists.hint ?? '', /--resume .*--force .*-o/);
  const damaged = workFolderDamaged('/runs/x/work', 'records.tsv is missing');
  assert.ok(damaged instanceof InputError);
  assert.equal(damaged.message, 'work folder /runs/x/work is damaged: records.tsv is missing; no output was written');
  assert.match(damaged.hint ?? '', /rerun the same command with --resume/);
});
