import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { codingSequence, fixture, fixtureModelFlags, repoRoot, tempDir } from '../helpers.js';
import { defaultShardSizing } from '../../src/pipeline/plan.js';
import { seededRandom } from '../../src/util/random.js';
import { memoryTensor } from '../../src/formats/tensor.js';
import { writeSafetensors } from '../../src/formats/safetensors.js';

const CLI = join(repoRoot, 'src/cli/main.ts');
const cache = tempDir('virnucpro-predict-cache-');
const MODELS = fixtureModelFlags(cache);
const INPUT = fixture('e2e/input.fa');
/** Small shards, so the e2e input makes several and a crash can fall between them. */
const SMALL_SHARDS = ['--shard-tokens', '300'];

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs the CLI; with `killAt`, SIGKILLs it once it announces that hold point. */
function cli(args: string[], options: { env?: Record<string, string>; killAt?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...options.env };
    if (options.killAt) env.VIRNUCPRO_TEST_HOLD = options.killAt;
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (options.killAt && stderr.includes(`VIRNUCPRO_TEST_HOLD ${options.killAt}`)) child.kill('SIGKILL');
    });
    child.stdout.resume();
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

const RESULT_FILES = ['prediction_results.txt', 'prediction_results_highestscore.csv', 'summary.tsv'];

function readResults(dir: string): Record<string, string> {
  return Object.fromEntries(RESULT_FILES.map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

function parsePredictions(text: string): Array<{ id: string; label: string; s1: number; s2: number }> {
  return text
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => {
      const [id, label, s1, s2] = l.split('\t');
      return { id, label, s1: Number(s1), s2: Number(s2) };
    });
}

let reference: Record<string, string> | null = null;
/** An uninterrupted run with small shards: the reference every variant must equal byte for byte. */
async function referenceResults(): Promise<Record<string, string>> {
  if (reference) return reference;
  const out = join(tempDir(), 'ref');
  const r = await cli(['predict', INPUT, '-e', '500', ...MODELS, ...SMALL_SHARDS, '-o', out, '-q']);
  assert.equal(r.code, 0, r.stderr);
  reference = readResults(out);
  return reference;
}

test('predict reproduces the original pipeline on the e2e fixture', async () => {
  const out = join(tempDir(), 'run');
  const r = await cli(['predict', INPUT, '-e', '500', ...MODELS, '-o', out]);
  assert.equal(r.code, 0, r.stderr);

  const want = parsePredictions(readFileSync(fixture('e2e/input_merged/prediction_results.txt'), 'utf8'));
  const got = parsePredictions(readFileSync(join(out, 'prediction_results.txt'), 'utf8'));
  assert.deepEqual(
    got.map((g) => [g.id, g.label]),
    want.map((w) => [w.id, w.label]),
    'same rows, order and labels',
  );
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i].s1 - want[i].s1) <= 1e-5 && Math.abs(got[i].s2 - want[i].s2) <= 1e-5, `scores of ${want[i].id}`);
  }
  assert.equal(
    readFileSync(join(out, 'prediction_results_highestscore.csv'), 'utf8'),
    readFileSync(fixture('e2e/input_merged/prediction_results_highestscore.csv'), 'utf8'),
  );

  // summary.tsv: every input record, in input order, records without frames included with their reason.
  const summary = readFileSync(join(out, 'summary.tsv'), 'utf8').trim().split('\n');
  assert.equal(summary[0], 'id\tlength\tchunks\tframes_scored\tmax_virus_score\tverdict\tstatus\tchunks_scored\tvirus_chunks\tvirus_fraction');
  const rows = summary.slice(1).map((l) => l.split('\t'));
  const expected = JSON.parse(readFileSync(fixture('e2e/expected_e2e.json'), 'utf8')) as { input_records: Array<{ id: string }> };
  assert.deepEqual(
    rows.map((r) => r[0]),
    expected.input_records.map((rec) => rec.id),
  );
  const byId = new Map(rows.map((r) => [r[0], r]));
  for (const rec of expected.input_records) {
    const framesWanted = want.filter((w) => w.id.startsWith(`${rec.id}_chunk_`)).length;
    const row = byId.get(rec.id)!;
    assert.equal(Number(row[3]), framesWanted, `frames scored for ${rec.id}`);
    if (framesWanted === 0) {
      assert.equal(row[5], 'not_scored');
      assert.match(row[6], /^(no_stop_free_frame|shorter_than_codon|empty)$/);
    } else {
      const maxVirus = Math.max(...got.filter((g) => g.id.startsWith(`${rec.id}_chunk_`)).map((g) => g.s2));
      assert.equal(Number(row[4]), maxVirus);
      assert.equal(row[5], maxVirus > 0.5 ? 'virus' : 'non_virus');
    }
  }
  const tiny = byId.get(expected.input_records.find((x) => x.id.startsWith('tiny_2'))?.id ?? '')?.[6];
  if (tiny) assert.equal(tiny, 'shorter_than_codon');

  const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
  assert.equal(run.complete, true);
  assert.equal(run.counts.records, 13);
  assert.equal(run.counts.frames, want.length);
  assert.equal(run.counts.rows, want.length);
  assert.match(run.input.sha256, /^[0-9a-f]{64}$/);
  assert.equal(run.parameters.expected_length, 500);
  assert.ok(Array.isArray(run.devices) && run.devices.length === 1 && run.devices[0].device === 'cpu:0');
  assert.equal(typeof run.makespan_s, 'number');
});

for (const point of ['plan', 'compute', 'outputs']) {
  test(`a run SIGKILLed during ${point} resumes to byte-identical results`, async () => {
    const ref = await referenceResults();
    const out = join(tempDir(), 'crash');
    const args = ['predict', INPUT, '-e', '500', ...MODELS, ...SMALL_SHARDS, '-o', out, '-q'];
    const killed = await cli(args, { killAt: point });
    assert.equal(killed.signal, 'SIGKILL', `the run reached the ${point} hold point: ${killed.stderr}`);
    for (const f of RESULT_FILES) assert.ok(!existsSync(join(out, f)), `${f} must not exist after the crash`);

    if (point !== 'plan') {
      // Finished shards are worth keeping: a plain rerun must not silently discard them.
      const again = await cli(args);
      assert.equal(again.code, 2, 'refuses to overwrite without --resume');
      assert.match(again.stderr, /already exists/);
    }

    const resumed = await cli([...args, '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepEqual(readResults(out), ref);
    const leftovers = [...readdirSync(out), ...readdirSync(join(out, 'work'))].filter((n) => n.endsWith('.tmp'));
    assert.deepEqual(leftovers, []);
  });
}

test('resume recomputes a corrupt shard result and refuses changed parameters', async () => {
  const ref = await referenceResults();
  const out = join(tempDir(), 'corrupt');
  const args = ['predict', INPUT, '-e', '500', ...MODELS, ...SMALL_SHARDS, '-o', out, '-q'];
  assert.equal((await cli(args)).code, 0);
  const shard = join(out, 'work', 'shard-000002.result');
  const bytes = readFileSync(shard);
  bytes[bytes.length - 3] ^= 0xff;
  writeFileSync(shard, bytes);

  const changed = await cli(['predict', INPUT, '-e', '300', ...MODELS, ...SMALL_SHARDS, '-o', out, '--resume']);
  assert.equal(changed.code, 2);
  assert.match(changed.stderr, /cannot resume.*parameters changed/s);
  assert.match(changed.stderr, /expectedLength: 500 \(interrupted run\) vs 300/);

  const resumed = await cli([...args.filter((a) => a !== '-q'), '--resume', '-v']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /shard 2: previous result not reused \(checksum mismatch\)/);
  assert.deepEqual(readResults(out), ref);
});

test('results are byte-identical on several workers with stealing and weighting', async () => {
  const ref = await referenceResults();
  const out = join(tempDir(), 'multi');
  const r = await cli([
    'predict',
    INPUT,
    '-e',
    '500',
    ...MODELS,
    ...SMALL_SHARDS,
    '-o',
    out,
    '-q',
    '--devices',
    'cpu:2',
    '--work-stealing',
    '--gpu-weights',
    '1,3',
    '--steal-interval',
    '0.1',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readResults(out), ref);
  const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
  assert.deepEqual(
    run.devices.map((d: { device: string }) => d.device),
    ['cpu:0', 'cpu:1'],
  );
  assert.equal(
    run.devices.reduce((a: number, d: { shards: number }) => a + d.shards, 0),
    run.counts.shards,
    'every shard done exactly once',
  );
});

test('at the default shard sizes, an input gets several shards and several devices give one device\'s bytes', async () => {
  const dir = tempDir();
  const input = join(dir, 'reads.fa');
  const random = seededRandom(2024);
  writeFileSync(input, Array.from({ length: 200 }, (_, i) => `>read_${i}\n${codingSequence(150, random)}\n`).join(''));
  const one = join(dir, 'one');
  const a = await cli(['predict', input, '-e', '500', ...MODELS, '-o', one, '-q']);
  assert.equal(a.code, 0, a.stderr);
  const many = join(dir, 'many');
  const b = await cli(['predict', input, '-e', '500', ...MODELS, '-o', many, '-q', '--devices', 'cpu:2', '--work-stealing', '--steal-interval', '0.1'], {
    env: { VIRNUCPRO_DEVICE_SLOWDOWN: '0=3' },
  });
  assert.equal(b.code, 0, b.stderr);
  assert.deepEqual(readResults(many), readResults(one));

  // The growing sizes (plan.ts) are the fingerprint's and run.json's record of how the shards were cut.
  const sizing = defaultShardSizing(4096);
  const plan = JSON.parse(readFileSync(join(many, 'work', 'plan.json'), 'utf8'));
  assert.deepEqual(plan.fingerprint.shardTokens, sizing);
  assert.ok(plan.shards.length >= 4, `${plan.shards.length} shards: a default run of this size has work to balance`);
  const run = JSON.parse(readFileSync(join(many, 'run.json'), 'utf8'));
  assert.deepEqual(run.parameters.shard_tokens, sizing);
  assert.equal(run.parameters.shard_tokens_auto, true);
});

test('bad invocations fail with a clear message and exit code 2', async () => {
  const dir = tempDir();
  const missing = await cli(['predict', INPUT, '-e', '500', '--esm', fixture('esm2/fair-esm/esm2_t2_32_tiny.pt'), '-o', join(dir, 'a')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /missing models: --dnabert, --classifier/);

  const noInput = await cli(['predict', join(dir, 'nope.fa'), '-e', '500', ...MODELS, '-o', join(dir, 'b')]);
  assert.equal(noInput.code, 2);
  assert.match(noInput.stderr, /nope\.fa: cannot read the input file/);

  const bad = join(dir, 'protein.fa');
  writeFileSync(bad, '>p1\nMKLVVEEQQPPLLK\n');
  const protein = await cli(['predict', bad, '-e', '500', ...MODELS, '-o', join(dir, 'c')]);
  assert.equal(protein.code, 2);
  assert.match(protein.stderr, /protein\.fa:2: record 'p1': invalid character 'L'/);
  assert.match(protein.stderr, /looks like a protein/);
  assert.ok(!existsSync(join(dir, 'c', 'prediction_results.txt')));
  // Fixing the input and running again needs no --force: the failed run left nothing worth keeping.
  writeFileSync(bad, '>p1\nATGAAACCCGGGTTTAAACCCGGGTTTAAA\n');
  const fixed = await cli(['predict', bad, '-e', '500', ...MODELS, '-o', join(dir, 'c'), '-q']);
  assert.equal(fixed.code, 0, fixed.stderr);

  // A classifier that expects other features than DNABERT-S (48) + ESM-2 (32) give is refused before any work.
  const clf = join(dir, 'wrong_classifier.safetensors');
  const t = (shape: number[]) => memoryTensor('float32', shape, new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.1));
  await writeSafetensors(
    clf,
    new Map([
      ['hidden_layer.weight', t([16, 81])],
      ['hidden_layer.bias', t([16])],
      ['bn1.weight', t([16])],
      ['bn1.bias', t([16])],
      ['bn1.running_mean', t([16])],
      ['bn1.running_var', t([16])],
      ['output_layer.weight', t([2, 16])],
      ['output_layer.bias', t([2])],
    ]),
  );
  const mismatch = await cli(['predict', INPUT, '-e', '500', ...MODELS.slice(0, 4), '--classifier', clf, '--cache-dir', cache, '-o', join(dir, 'd')]);
  assert.equal(mismatch.code, 2, mismatch.stderr);
  assert.match(mismatch.stderr, /do not fit together.*expects 81 features.*give 80/s);
});

test('a shard that fails on every attempt makes the run incomplete (exit 3, no result files); --resume finishes it', async () => {
  const ref = await referenceResults();
  const out = join(tempDir(), 'incomplete');
  const args = ['predict', INPUT, '-e', '500', ...MODELS, ...SMALL_SHARDS, '-o', out, '-q'];
  const failed = await cli(args, { env: { VIRNUCPRO_TEST_FAIL_SHARD: '3' } });
  assert.equal(failed.code, 3, failed.stderr);
  assert.match(failed.stderr, /the run is incomplete: 1 shard\(s\) could not be processed: shard-3/);
  assert.match(failed.stderr, /--resume/);
  for (const f of RESULT_FILES) assert.ok(!existsSync(join(out, f)), `${f} must not be written for an incomplete run`);
  const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
  assert.equal(run.complete, false);
  assert.equal(run.failed_shards[0].id, 'shard-3');

  const resumed = await cli([...args, '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.deepEqual(readResults(out), ref);
  assert.equal(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).counts.shards_reused, run.counts.shards - 1);
});

test('--save-embeddings writes the merged features per shard; a resumed run recomputes shards that lack them', async () => {
  const out = join(tempDir(), 'emb');
  const args = ['predict', INPUT, '-e', '500', ...MODELS, ...SMALL_SHARDS, '-o', out, '-q'];
  assert.equal((await cli(args)).code, 0);
  const again = await cli([...args, '--resume', '--save-embeddings']);
  assert.equal(again.code, 0, again.stderr);
  const names = readdirSync(join(out, 'embeddings')).sort();
  const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
  assert.equal(run.counts.shards_reused, 0, 'no shard result had features');
  assert.equal(names.length, 2 * run.counts.shards);
  // Format: magic, JSON header line, probabilities then features (float32, little-endian); ids one per line.
  const bin = readFileSync(join(out, 'embeddings', 'shard-000001.bin'));
  const ids = readFileSync(join(out, 'embeddings', 'shard-000001.ids'), 'utf8').trim().split('\n');
  assert.equal(bin.subarray(0, 8).toString('latin1'), 'VNPRES1\n');
  const nl = bin.indexOf(0x0a, 8);
  const header = JSON.parse(bin.subarray(8, nl).toString('utf8'));
  assert.equal(header.frames, ids.length);
  assert.equal(header.featureDim, 48 + 32);
  assert.equal(bin.length - nl - 1, 4 * header.frames * (header.classes + header.featureDim));
  const preds = parsePredictions(readFileSync(join(out, 'prediction_results.txt'), 'utf8'));
  assert.deepEqual(ids, preds.slice(0, ids.length).map((p) => p.id));
  assert.deepEqual(readResults(out), await referenceResults());
});

test('the streamed verdict file equals the in-memory grouping on records with many chunks (x_chunk_10 before x_chunk_2)', async () => {
  const dir = tempDir();
  const input = join(dir, 'long.fa');
  // Stop-free codon runs: many chunks per record, several frames per chunk, sorted across records by Python order.
  let seed = 99;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const sense: string[] = [];
  for (const a of 'ACGT') for (const b of 'ACGT') for (const c of 'ACGT') if (!['TAA', 'TAG', 'TGA'].includes(a + b + c)) sense.push(a + b + c);
  const record = (n: number) => Array.from({ length: n }, () => sense[Math.floor(rand() * sense.length)]).join('');
  writeFileSync(input, `>zeta\n${record(2100)}\n>alpha_1\n${record(400)}\n>Alpha\n${record(30)}\n`);
  const out = join(dir, 'out');
  const r = await cli(['predict', input, '-e', '500', ...MODELS, '-o', out, '-q', '--shard-tokens', '2000']);
  assert.equal(r.code, 0, r.stderr);
  const { highestScoreRows, formatHighestScoreCsv } = await import('../../src/io/results.js');
  const preds = parsePredictions(readFileSync(join(out, 'prediction_results.txt'), 'utf8')).map((p) => ({ id: p.id, score1: p.s1, score2: p.s2 }));
  const csv = readFileSync(join(out, 'prediction_results_highestscore.csv'), 'utf8');
  assert.equal(csv, formatHighestScoreCsv(highestScoreRows(preds)));
  const keys = csv.trim().split('\n').slice(1).map((l) => l.split('\t')[0]);
  assert.ok(keys.indexOf('zeta_chunk_10') < keys.indexOf('zeta_chunk_2'), keys.join(' '));
  assert.ok(keys.indexOf('Alpha_chunk_1') < keys.indexOf('alpha_1_chunk_1'), 'upper case sorts first, as in Python');
  const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
  assert.ok(run.counts.shards > 1);
});
