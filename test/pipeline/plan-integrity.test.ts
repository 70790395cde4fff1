// Integrity of the resumable work folder and of predict's input: damage is repaired or refused, never used
// silently; the input is read once; long records are cut into shards like any other work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { codingSequence, fixture, fixtureModelFlags, tempDir } from '../helpers.js';
import { runCli, type CliRun } from '../cli-harness.js';
import { writeOutputs } from '../../src/pipeline/finalize.js';
import { planRun, planShards } from '../../src/pipeline/plan.js';
import { shardInputName, shardResultName, writeShardResult } from '../../src/pipeline/shard-files.js';
import { PLAN_FORMAT_VERSION, WorkDir, type RunPlan } from '../../src/pipeline/workdir.js';
import { translateFile } from '../../src/pipeline/translate-files.js';
import { sha256File } from '../../src/util/hash.js';
import { seededRandom } from '../../src/util/random.js';

const cache = tempDir('virnucpro-integrity-cache-');
const MODELS = fixtureModelFlags(cache);
const INPUT = fixture('e2e/input.fa');
const SMALL_SHARDS = ['--shard-tokens', '300'];
const RESULT_FILES = ['prediction_results.txt', 'prediction_results_highestscore.csv', 'summary.tsv'];

/** Runs the CLI; a run still going after `timeoutMs` is killed, which the tests report as a hang. */
async function cli(args: string[], timeoutMs = 120_000): Promise<CliRun> {
  const r = await runCli(args, { timeoutMs });
  return r.signal ? { ...r, stderr: `${r.stderr}\n[test] the run hung: killed` } : r;
}

function readResults(dir: string): Record<string, string> {
  return Object.fromEntries(RESULT_FILES.map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

const readPlanJson = (out: string): RunPlan => JSON.parse(readFileSync(join(out, 'work', 'plan.json'), 'utf8')) as RunPlan;

/** A finished small-shard run of the e2e input: its directory and outputs. */
async function finishedRun(name: string): Promise<{ out: string; args: string[]; results: Record<string, string> }> {
  const out = join(tempDir(), name);
  const args = ['predict', INPUT, '-e', '500', ...MODELS, ...SMALL_SHARDS, '-o', out, '-q'];
  const r = await cli(args);
  assert.equal(r.code, 0, r.stderr);
  return { out, args, results: readResults(out) };
}

test('a line deleted from records.tsv is repaired on --resume (never a shortened summary), keeping every result', async () => {
  const { out, args, results } = await finishedRun('records');
  const records = join(out, 'work', 'records.tsv');
  const lines = readFileSync(records, 'utf8').split('\n');
  lines.splice(5, 1);
  writeFileSync(records, lines.join('\n'));

  const resumed = await cli([...args.filter((a) => a !== '-q'), '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /work folder .* is damaged \(records\.tsv modified\): planning again from the input/);
  assert.deepEqual(readResults(out), results);
  const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
  assert.equal(run.counts.shards_reused, run.counts.shards, 'no shard input was damaged: every result is kept');
  assert.equal(run.counts.records, 13);
});

test('an edited shard input is detected on --resume: planned again, its result discarded and recomputed', async () => {
  const { out, args, results } = await finishedRun('shard-input');
  const shard = join(out, 'work', shardInputName(2));
  // An edit the outputs would show: the frame ids get another name.
  writeFileSync(shard, readFileSync(shard, 'utf8').replace(/\t([^\t]+_chunk_)/g, '\tedited_$1'));
  // And another shard input is gone.
  const plan = readPlanJson(out);
  const last = plan.shards.length;
  rmSync(join(out, 'work', shardInputName(last)));

  const resumed = await cli([...args.filter((a) => a !== '-q'), '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, new RegExp(`${shardInputName(2)} modified, ${shardInputName(last)} missing`));
  assert.match(resumed.stderr, /the results of 2 shard\(s\) with a damaged input are discarded/);
  assert.deepEqual(readResults(out), results);
  assert.doesNotMatch(readFileSync(join(out, 'prediction_results.txt'), 'utf8'), /edited_/);
  const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
  assert.equal(run.counts.shards_reused, run.counts.shards - 2);
  assert.deepEqual(readPlanJson(out), plan, 'the same plan again');
});

/** A work folder planned from `fasta` with made-up (but valid) results for every shard: what finalize reads. */
async function plannedWithResults(fasta: string, shardTokens: number): Promise<{ dir: string; workDir: WorkDir; plan: RunPlan }> {
  const dir = tempDir();
  const input = join(dir, 'in.fa');
  writeFileSync(input, fasta);
  const workDir = new WorkDir(join(dir, 'out'));
  const plan = await planRun(
    { input, expectedLength: 300, workDir, shardTokens, shardCost: () => 1 },
    { planFormat: PLAN_FORMAT_VERSION, expectedLength: 300, modelsSha256: 'x', precision: 'fp32', batchTokens: 100, shardTokens, minLength: 0 },
  );
  for (const s of plan.shards) {
    const probabilities = new Float32Array(2 * s.frames);
    for (let i = 0; i < s.frames; i++) probabilities.set([0.25, 0.75], 2 * i);
    await writeShardResult(workDir.path(shardResultName(s.index)), { shard: s.index, frames: s.frames, classes: 2, probabilities, featureDim: 0 });
  }
  return { dir, workDir, plan };
}

const finalize = (w: { dir: string; workDir: WorkDir; plan: RunPlan }) =>
  writeOutputs({
    plan: w.plan,
    workDir: w.workDir,
    outDir: join(w.dir, 'out'),
    minScore: 0.5,
    saveEmbeddings: false,
    input: w.workDir.rereadableInput(w.plan, join(w.dir, 'in.fa')),
    virusFasta: 'in_virus.fna',
  });

test('finalize checks records.tsv and the shard inputs as it reads them: damage fails loudly and writes no output', async () => {
  const fasta = '>a\nATGAAACCCGGGTTTAAACCCGGG\n>b\nAC\n>c\nATGAAACCCGGGTTTAAACCCGGGTTT\n>d\n\n>e\nATGGGGCCCAAATTTGGGCCC\n';
  const w = await plannedWithResults(fasta, 20);
  assert.ok(w.plan.shards.length >= 2);
  const summary = join(w.dir, 'out', 'summary.tsv');
  const records = w.workDir.recordsPath;
  const original = readFileSync(records, 'utf8');

  const damaged: Array<[string, string, RegExp]> = [
    ['a row deleted', original.split('\n').filter((l) => !l.startsWith('1\t')).join('\n'), /records\.tsv has record 2 where record 1 belongs/],
    ['the last row deleted', original.split('\n').filter((l) => !l.startsWith('4\t')).join('\n'), /records\.tsv has 4 records, the plan has 5/],
    ['a row edited', original.replace('\tb\t', '\tB\t'), /records\.tsv was modified since it was planned/],
    ['truncated mid-row', original.slice(0, -3), /records\.tsv does not end with a line break/],
  ];
  for (const [what, text, message] of damaged) {
    writeFileSync(records, text);
    await assert.rejects(finalize(w), (e: Error & { exitCode?: number }) => {
      assert.match(e.message, message, what);
      assert.match(e.message, /no output was written/);
      assert.equal(e.exitCode, 2);
      return true;
    });
    assert.ok(!existsSync(summary), `${what}: no summary.tsv`);
  }
  writeFileSync(records, original);

  const shard = w.workDir.path(shardInputName(1));
  const shardText = readFileSync(shard, 'utf8');
  writeFileSync(shard, shardText.split('\n').slice(1).join('\n'));
  await assert.rejects(finalize(w), /shard-000001\.tsv modified since it was planned/);
  writeFileSync(shard, shardText);

  const counts = await finalize(w);
  assert.equal(counts.rows, w.plan.counts.frames);
  const rows = readFileSync(summary, 'utf8').trim().split('\n').slice(1);
  assert.deepEqual(
    rows.map((r) => r.split('\t')[0]),
    ['a', 'b', 'c', 'd', 'e'],
  );
});

test('an unreadable plan.json is reported, not taken for a missing one', async () => {
  const w = new WorkDir(tempDir());
  assert.deepEqual(await w.readPlan(), { state: 'missing' });
  mkdirSync(w.dir, { recursive: true });
  writeFileSync(w.planPath, '{"fingerprint": {"planFormat": 2}, "shards": [');
  assert.deepEqual(await w.readPlan(), { state: 'unreadable', reason: 'not valid JSON' });
  writeFileSync(w.planPath, JSON.stringify({ fingerprint: { planFormat: PLAN_FORMAT_VERSION }, shards: [{ index: 1, frames: 2 }], counts: { records: 1 } }));
  assert.equal((await w.readPlan()).state, 'unreadable');
});

test('the input is checksummed while it is planned: the same sha256 as reading the file, for every compression', async (t) => {
  const dir = tempDir();
  const text = `>a desc\n${'ACGT'.repeat(500)}\n>b\nATGAAACCC\n`;
  const files = [join(dir, 'plain.fa'), join(dir, 'gz.fa.gz')];
  writeFileSync(files[0], text);
  writeFileSync(files[1], Buffer.concat([gzipSync(text), Buffer.alloc(64)])); // trailing zeros, as some tools pad
  for (const tool of ['bzip2', 'xz', 'zstd']) {
    const plain = join(dir, `${tool}.fa`);
    writeFileSync(plain, text);
    const r = spawnSync(tool, ['-q', '-k', '-f', plain]);
    if (r.error || r.status !== 0) {
      t.diagnostic(`${tool} command not available; skipped`);
      continue;
    }
    files.push(`${plain}.${{ bzip2: 'bz2', xz: 'xz', zstd: 'zst' }[tool]}`);
  }
  for (const input of files) {
    const workDir = new WorkDir(join(dir, `out-${files.indexOf(input)}`));
    await workDir.reset();
    const p = await planShards({ input, expectedLength: 300, workDir, shardTokens: 1000, shardCost: () => 1 });
    assert.equal(p.inputSha256, await sha256File(input), input);
    assert.equal(p.counts.records, 2);
    assert.equal(p.recordsFile.sha256, await sha256File(workDir.recordsPath));
  }
});

test('a FIFO or a directory as input is refused at once with exit code 2 (no hang, no internal error)', async () => {
  const dir = tempDir();
  const fifo = join(dir, 'reads.fa');
  const made = spawnSync('mkfifo', [fifo]);
  assert.equal(made.status, 0, 'mkfifo');
  // Nothing ever writes to the FIFO: a run that opened it would wait forever (the helper kills it after 60 s).
  const pipe = await cli(['predict', fifo, '-e', '500', ...MODELS, '-o', join(dir, 'a')], 60_000);
  assert.equal(pipe.code, 2, pipe.stderr);
  assert.match(pipe.stderr, /reads\.fa is not a regular file \(a pipe, socket or device\)/);
  assert.match(pipe.stderr, /save the sequences to a file first/);

  const folder = join(dir, 'folder.fa');
  mkdirSync(folder);
  const d = await cli(['predict', folder, '-e', '500', ...MODELS, '-o', join(dir, 'b')]);
  assert.equal(d.code, 2, d.stderr);
  assert.match(d.stderr, /folder\.fa is a directory/);
  assert.doesNotMatch(d.stderr, /internal error/);
});

/** Stop-free codons: a record made of them has frames in every chunk. */
function rows(text: string): string[][] {
  return text
    .trim()
    .split('\n')
    .map((l) => l.split('\t'));
}

/** Equal tables, except that numeric columns may differ by 1e-5 (batch composition changes float rounding). */
function assertClose(got: string, want: string, numericColumns: number[], what: string): void {
  const g = rows(got);
  const w = rows(want);
  assert.equal(g.length, w.length, `${what}: row count`);
  for (let i = 0; i < w.length; i++) {
    assert.equal(g[i].length, w[i].length, `${what} row ${i}`);
    for (let j = 0; j < w[i].length; j++) {
      if (i > 0 && numericColumns.includes(j) && w[i][j] !== 'NA') {
        assert.ok(Math.abs(Number(g[i][j]) - Number(w[i][j])) <= 1e-5, `${what} row ${i} column ${j}: ${g[i][j]} vs ${w[i][j]}`);
      } else {
        assert.equal(g[i][j], w[i][j], `${what} row ${i} column ${j}`);
      }
    }
  }
}

test('a long record is cut into several shards; the outputs equal a one-shard run', async () => {
  const dir = tempDir();
  const random = seededRandom(7);
  const input = join(dir, 'long.fa');
  const big = codingSequence(3000, random); // 9 kb: 18 chunks of 500
  writeFileSync(input, `>before\n${codingSequence(200, random)}\n>big genome\n${big}\n>tiny\nAC\n>after\n${codingSequence(300, random)}\n`);

  const one = join(dir, 'one');
  const many = join(dir, 'many');
  const a = await cli(['predict', input, '-e', '500', ...MODELS, '-o', one, '-q', '--shard-tokens', '20000000']);
  assert.equal(a.code, 0, a.stderr);
  const b = await cli(['predict', input, '-e', '500', ...MODELS, '-o', many, '-q', '--shard-tokens', '1000']);
  assert.equal(b.code, 0, b.stderr);

  assert.equal(readPlanJson(one).shards.length, 1);
  const plan = readPlanJson(many);
  const holdingBig = plan.shards.filter((s) => s.firstRecord <= 1 && s.lastRecord >= 1);
  assert.ok(holdingBig.length >= 3, `the long record spans ${holdingBig.length} shard(s)`);
  assert.ok(holdingBig.some((s) => s.firstRecord === 1 && s.lastRecord === 1), 'a shard inside the record');
  for (const s of plan.shards.slice(0, -1)) assert.ok(s.nucleotideTokens + s.proteinTokens >= 1000, `shard ${s.index} closed at the budget`);
  // No shard exceeds the budget by more than the one frame that reached it (a 500 bp frame: about 300 tokens).
  for (const s of plan.shards) assert.ok(s.nucleotideTokens + s.proteinTokens < 1000 + 400, `shard ${s.index} size`);

  const x = readResults(many);
  const y = readResults(one);
  assertClose(x['prediction_results.txt'], y['prediction_results.txt'], [2, 3], 'prediction_results.txt');
  assert.equal(x['prediction_results_highestscore.csv'], y['prediction_results_highestscore.csv']);
  assertClose(x['summary.tsv'], y['summary.tsv'], [4], 'summary.tsv');
  // summary.tsv: every record once, in input order, with all of its frames counted across the shards it spans.
  const predictions = rows(x['prediction_results.txt']).slice(1);
  const summary = rows(x['summary.tsv']).slice(1);
  assert.deepEqual(
    summary.map((r) => r[0]),
    ['before', 'big', 'tiny', 'after'],
  );
  for (const r of summary) assert.equal(Number(r[3]), predictions.filter((p) => p[0].startsWith(`${r[0]}_chunk_`)).length, r[0]);
  assert.ok(Number(summary[1][3]) >= 18, 'a frame per chunk of the long record at least');
});

test('--keep-intermediate files are written while planning, byte for byte those of translate', async () => {
  const dir = tempDir();
  const out = join(dir, 'run');
  const r = await cli(['predict', INPUT, '-e', '500', ...MODELS, ...SMALL_SHARDS, '-o', out, '-q', '--keep-intermediate']);
  assert.equal(r.code, 0, r.stderr);
  const t = await translateFile({ input: INPUT, expectedLength: 500, outDir: join(dir, 'translate') });
  for (const path of Object.values(t.outputs)) {
    const name = path.slice(path.lastIndexOf('/') + 1);
    assert.equal(readFileSync(join(out, name), 'utf8'), readFileSync(path, 'utf8'), name);
  }
});
