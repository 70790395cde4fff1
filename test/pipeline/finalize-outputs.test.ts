/**
 * writeOutputs (finalize.ts) on real work folders: planned from a FASTA file by
 * the real planner, with shard results holding chosen probabilities (no model
 * runs), so the three output files can be checked byte for byte:
 * - against the original pipeline's files (test/fixtures/e2e), fed the
 *   original's own float32 scores: this is predict's number formatting and
 *   ordering path, whatever the shard boundaries;
 * - on hand-made cases for the verdict rules (ties, the --min-score boundary),
 *   the chunk counts and coverage of summary.tsv, `<stem>_virus.fna`, the Python
 *   sort order of chunk ids, plain tables (no comment lines), --save-embeddings,
 *   and damage.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, tempDir } from '../helpers.js';
import { OUTPUT_FILES, writeOutputs, type FinalizeCounts } from '../../src/pipeline/finalize.js';
import { planRun } from '../../src/pipeline/plan.js';
import { chunkSpans } from '../../src/seq/chunk.js';
import { parseShardInput, shardInputName, shardResultName, writeShardResult } from '../../src/pipeline/shard-files.js';
import { PLAN_FORMAT_VERSION, WorkDir, type RunPlan } from '../../src/pipeline/workdir.js';
import { sha256Hex } from '../../src/util/hash.js';
import { InputError } from '../../src/util/errors.js';

/** Probabilities (others, virus) for a frame id. */
type Scorer = (frameId: string) => [number, number];

interface Run {
  /** The input file the run was planned from. */
  input: string;
  out: string;
  workDir: WorkDir;
  plan: RunPlan;
}

/** Plans `fasta` into a fresh work folder and writes a result for every shard from `score`. */
async function planned(fasta: string, expectedLength: number, shardTokens: number, score: Scorer, features = 0, minLength = 0): Promise<Run> {
  const dir = tempDir();
  const input = join(dir, 'in.fa');
  writeFileSync(input, fasta);
  const out = join(dir, 'out');
  const workDir = new WorkDir(out);
  const plan = await planRun(
    { input, expectedLength, workDir, shardTokens, shardCost: () => 1, minLength },
    { planFormat: PLAN_FORMAT_VERSION, expectedLength, modelsSha256: 'test', precision: 'fp32', batchTokens: 1000, shardTokens, minLength },
  );
  for (const s of plan.shards) {
    const frames = parseShardInput(readFileSync(workDir.path(shardInputName(s.index)), 'utf8'), 'shard');
    const probabilities = new Float32Array(frames.flatMap((f) => score(f.id)));
    const feat = features > 0 ? new Float32Array(frames.length * features).map((_, i) => s.index + i / 1000) : undefined;
    await writeShardResult(workDir.path(shardResultName(s.index)), { shard: s.index, frames: frames.length, classes: 2, probabilities, featureDim: features, features: feat });
  }
  return { input, out, workDir, plan };
}

function finalize(r: Run, options: { minScore?: number; saveEmbeddings?: boolean } = {}): Promise<FinalizeCounts> {
  return writeOutputs({
    plan: r.plan,
    workDir: r.workDir,
    outDir: r.out,
    minScore: options.minScore ?? 0.5,
    saveEmbeddings: options.saveEmbeddings ?? false,
    input: r.workDir.rereadableInput(r.plan, r.input),
    virusFasta: VIRUS_FNA,
  });
}

const VIRUS_FNA = 'in_virus.fna';
const read = (r: Run, name: string) => readFileSync(join(r.out, name), 'utf8');

/** summary.tsv's header, as documented in the README. */
const SUMMARY_HEADER = 'id\tlength\tchunks\tframes_scored\tmax_virus_score\tverdict\tstatus\tchunks_scored\tvirus_chunks\tvirus_fraction';

// ----------------------------------------------------- the original's files ---

const E2E_TXT = readFileSync(fixture('e2e/input_merged/prediction_results.txt'), 'utf8');
const E2E_CSV = readFileSync(fixture('e2e/input_merged/prediction_results_highestscore.csv'), 'utf8');
const e2e = JSON.parse(readFileSync(fixture('e2e/expected_e2e.json'), 'utf8')) as {
  input_records: Array<{ id: string; sequence: string }>;
  chunks: Array<{ id: string }>;
};
/** The original's rows: id, label and the two scores as it printed them. */
const E2E_ROWS = E2E_TXT.trimEnd().split('\n').slice(1).map((l) => l.split('\t'));
const E2E_SCORES = new Map(E2E_ROWS.map(([id, , s1, s2]) => [id, [Math.fround(Number(s1)), Math.fround(Number(s2))] as [number, number]]));
const e2eScore: Scorer = (id) => {
  const s = E2E_SCORES.get(id);
  assert.ok(s, `the original scored no frame ${id}`);
  return s;
};

/**
 * summary.tsv for the e2e input, derived from the original's files alone: chunks per
 * record from its chunk list, frames and the highest virus score (as it printed it)
 * from its prediction rows, the reason a record has no frame from its length; virus
 * chunks from the same rows, their coverage from the chunk windows (chunkSpans,
 * checked against the original in test/seq).
 */
function e2eSummary(minScore: number): string {
  const lines = [SUMMARY_HEADER];
  for (const rec of e2e.input_records) {
    const prefix = `${rec.id}_chunk_`;
    const chunks = e2e.chunks.filter((c) => c.id.startsWith(prefix)).length;
    const rows = E2E_ROWS.filter(([id]) => id.startsWith(prefix));
    const length = rec.sequence.length;
    if (rows.length === 0) {
      const status = length === 0 ? 'empty' : length < 3 ? 'shorter_than_codon' : 'no_stop_free_frame';
      lines.push(`${rec.id}\t${length}\t${chunks}\t0\tNA\tnot_scored\t${status}\t0\t0\tNA`);
      continue;
    }
    const best = rows.reduce((a, b) => (Number(b[3]) > Number(a[3]) ? b : a));
    const chunkBest = new Map<number, number>();
    for (const [id, , , s2] of rows) {
      const k = Number(/_chunk_(\d+)[FR]\d$/.exec(id)![1]);
      chunkBest.set(k, Math.max(chunkBest.get(k) ?? -1, Number(s2)));
    }
    const virusChunks = [...chunkBest].filter(([, s]) => s > minScore).map(([k]) => k);
    const covered = new Set<number>();
    const spans = chunkSpans(length, 500);
    for (const k of virusChunks) for (let i = spans[k - 1].start; i < spans[k - 1].end; i++) covered.add(i);
    lines.push(
      `${rec.id}\t${length}\t${chunks}\t${rows.length}\t${best[3]}\t${Number(best[3]) > minScore ? 'virus' : 'non_virus'}\tok` +
        `\t${chunkBest.size}\t${virusChunks.length}\t${(covered.size / length).toFixed(4)}`,
    );
  }
  return lines.join('\n') + '\n';
}

test("the original's scores come out as the original's files, byte for byte, however the work is sharded", async () => {
  const fasta = readFileSync(fixture('e2e/input.fa'), 'utf8');
  for (const shardTokens of [300, 2000, 1e9]) {
    const r = await planned(fasta, 500, shardTokens, e2eScore);
    if (shardTokens === 300) assert.ok(r.plan.shards.length > 3, 'several shards');
    const counts = await finalize(r);
    assert.equal(read(r, OUTPUT_FILES.predictions), E2E_TXT, `prediction_results.txt, shard tokens ${shardTokens}`);
    assert.equal(read(r, OUTPUT_FILES.highestScore), E2E_CSV, `prediction_results_highestscore.csv, shard tokens ${shardTokens}`);
    assert.equal(read(r, OUTPUT_FILES.summary), e2eSummary(0.5), `summary.tsv, shard tokens ${shardTokens}`);
    const verdicts = E2E_CSV.trimEnd().split('\n').slice(1);
    const summaryRows = e2eSummary(0.5).trimEnd().split('\n').slice(1);
    assert.deepEqual(counts, {
      rows: E2E_ROWS.length,
      chunkVerdicts: verdicts.length,
      virusChunks: verdicts.filter((l) => l.endsWith('\tTrue')).length,
      virusRecords: summaryRows.filter((l) => l.includes('\tvirus\t')).length,
    });
    assert.ok(counts.virusRecords > 0 && counts.virusChunks > 0 && counts.virusChunks < counts.chunkVerdicts);
  }
});

test('--min-score moves only the summary verdicts: a record is virus when its best score exceeds it', async () => {
  const r = await planned(readFileSync(fixture('e2e/input.fa'), 'utf8'), 500, 1e9, e2eScore);
  for (const minScore of [0, 0.3, 0.9]) {
    const counts = await finalize(r, { minScore });
    assert.equal(read(r, OUTPUT_FILES.summary), e2eSummary(minScore), `min score ${minScore}`);
    assert.equal(read(r, OUTPUT_FILES.highestScore), E2E_CSV);
    assert.equal(counts.virusRecords, e2eSummary(minScore).split('\n').filter((l) => l.includes('\tvirus\t')).length);
  }
});

// ------------------------------------------------------------- hand-made ---

/** GCC repeats: no T on either strand, so every frame of every chunk is stop-free. */
const stopFree = (n: number) => 'GCC'.repeat(Math.ceil(n / 3)).slice(0, n);

/** 13 nucleotides with a stop codon in each of the six frames (TTA GCT AGT TAA T; reverse ATT AAC TAG CTA A). */
const ALL_FRAMES_STOP = 'TTAGCTAGTTAAT';

test('verdict rules: a printed tie is virus in the chunk file; the summary needs a score above --min-score', async () => {
  // Record t: one 30-nt chunk (frames F1..R3); u: two chunks; v: scored low; w: no stop-free frame.
  const fasta = `>t\n${stopFree(30)}\n>u\n${stopFree(45)}\n>v\n${stopFree(30)}\n>w\n${ALL_FRAMES_STOP}\n`;
  const scores: Record<string, [number, number]> = {
    // t_chunk_1: max(score1) = max(score2) = 0.5 exactly -> True; its best virus score 0.5 is not above 0.5.
    t_chunk_1F1: [0.5, 0.5],
    // u_chunk_1: the maxima come from different frames: max1 0.875 (R3) > max2 0.625 (F1) -> False.
    u_chunk_1F1: [0.375, 0.625],
    u_chunk_1R3: [0.875, 0.125],
    // u_chunk_2: max2 0.5625 >= max1 0.4375 -> True; the record's best virus score is 0.625 (chunk 1).
    u_chunk_2F2: [0.4375, 0.5625],
  };
  const r = await planned(fasta, 30, 1e9, (id) => scores[id] ?? (id.startsWith('v') ? [0.9375, 0.0625] : [0.125, 0.375]));
  const counts = await finalize(r, { minScore: 0.5 });
  const csv = read(r, OUTPUT_FILES.highestScore);
  assert.equal(csv, 'Modified_ID\tIs_Virus\nt_chunk_1\tTrue\nu_chunk_1\tFalse\nu_chunk_2\tTrue\nv_chunk_1\tFalse\n');
  const summary = read(r, OUTPUT_FILES.summary).trimEnd().split('\n').slice(1);
  // Chunks per record: scored, called virus (best frame above --min-score: both of u's, though the
  // chunk file says False for u_chunk_1), and the share of the bases they cover (u's overlap once).
  assert.deepEqual(summary, [
    't\t30\t1\t6\t0.5\tnon_virus\tok\t1\t0\t0.0000',
    'u\t45\t2\t12\t0.625\tvirus\tok\t2\t2\t1.0000',
    'v\t30\t1\t6\t0.0625\tnon_virus\tok\t1\t0\t0.0000',
    `w\t${ALL_FRAMES_STOP.length}\t1\t0\tNA\tnot_scored\tno_stop_free_frame\t0\t0\tNA`,
  ]);
  assert.equal(read(r, VIRUS_FNA), `>u\n${stopFree(45)}\n`, 'the one record called virus, whole');
  assert.deepEqual(counts, { rows: 24, chunkVerdicts: 4, virusChunks: 2, virusRecords: 1 });
  // The rows keep the shard order and print each score with str(numpy.float32); a tie is `others`.
  const rows = read(r, OUTPUT_FILES.predictions).split('\n');
  assert.equal(rows[1], 't_chunk_1F1\tothers\t0.5\t0.5');
  assert.equal(rows[2], 't_chunk_1F2\tvirus\t0.125\t0.375');
  assert.equal(rows[19], 'v_chunk_1F1\tothers\t0.9375\t0.0625');
});

test('summary.tsv counts chunks scored and called virus, and the share of the record their union covers', async () => {
  // 75 nt in 30-nt windows: [0,30), [24,54), [48,75) (the original's uneven overlaps).
  assert.deepEqual(chunkSpans(75, 30).map((w) => [w.start, w.end]), [[0, 30], [24, 54], [48, 75]]);
  const fasta = `>a\n${stopFree(75)}\n>b\n${stopFree(75)}\n>c\n${stopFree(75)}\n`;
  const virus = new Set(['a_chunk_1', 'a_chunk_2', 'b_chunk_1', 'b_chunk_3']);
  const r = await planned(fasta, 30, 200, (id) => (virus.has(id.slice(0, -2)) ? [0.25, 0.75] : [0.75, 0.25]));
  assert.ok(r.plan.shards.length >= 2, 'chunks and records spread over several shards');
  await finalize(r);
  const rows = read(r, OUTPUT_FILES.summary).trimEnd().split('\n').slice(1).map((l) => l.split('\t').slice(7));
  assert.deepEqual(rows, [
    ['3', '2', '0.7200'], // [0,54): the overlap of chunks 1 and 2 counted once (54, not 60)
    ['3', '2', '0.7600'], // [0,30) and [48,75)
    ['3', '0', '0.0000'],
  ]);
});

test('<stem>_virus.fna: the records called virus, whole, in input order, with their header lines, 60 columns; --min-length records are too_short', async () => {
  const long = stopFree(130);
  const fasta = `>first one  \t\n${long.slice(0, 70)}\n${long.slice(70)}\n>short\n${stopFree(40)}\n>low\n${stopFree(90)}\n>last x=1\n${stopFree(61)}\n`;
  const r = await planned(fasta, 30, 1e9, (id) => (id.startsWith('low') ? [0.9, 0.1] : [0.1, 0.9]), 0, 50);
  await finalize(r);
  assert.equal(
    read(r, VIRUS_FNA),
    `>first one\n${long.slice(0, 60)}\n${long.slice(60, 120)}\n${long.slice(120)}\n>last x=1\n${stopFree(61).slice(0, 60)}\n${stopFree(61).slice(60)}\n`,
  );
  const short = read(r, OUTPUT_FILES.summary).split('\n').find((l) => l.startsWith('short\t'));
  assert.equal(short, 'short\t40\t0\t0\tNA\tnot_scored\ttoo_short\t0\t0\tNA', 'below --min-length 50: listed, not chunked, not scored');
  assert.equal(r.plan.counts.recordsWithoutFrames.tooShort, 1);
  assert.ok(!read(r, OUTPUT_FILES.predictions).includes('short_chunk'), 'no frame of it is scored');
  // Written again (a resumed run): the same bytes.
  const before = read(r, VIRUS_FNA);
  await finalize(r);
  assert.equal(read(r, VIRUS_FNA), before);
});

test('FASTQ input: planned like FASTA; the viral records come out as FASTA with the @ line as header', async () => {
  const dir = tempDir();
  const input = join(dir, 'reads.fq');
  const q = (n: number) => 'I'.repeat(n);
  writeFileSync(input, `@r1 lane=1\n${stopFree(45)}\n+\n${q(45)}\n@r2\n${stopFree(30)}\n+r2\n${q(30)}\n`);
  const out = join(dir, 'out');
  const workDir = new WorkDir(out);
  const plan = await planRun(
    { input, expectedLength: 30, workDir, shardTokens: 1e9, shardCost: () => 1 },
    { planFormat: PLAN_FORMAT_VERSION, expectedLength: 30, modelsSha256: 'test', precision: 'fp32', batchTokens: 1000, shardTokens: 1e9, minLength: 0 },
  );
  assert.equal(plan.input.format, 'fastq');
  for (const s of plan.shards) {
    const frames = parseShardInput(readFileSync(workDir.path(shardInputName(s.index)), 'utf8'), 'shard');
    const probabilities = new Float32Array(frames.flatMap((f) => (f.id.startsWith('r1') ? [0.2, 0.8] : [0.8, 0.2])));
    await writeShardResult(workDir.path(shardResultName(s.index)), { shard: s.index, frames: frames.length, classes: 2, probabilities, featureDim: 0 });
  }
  await writeOutputs({ plan, workDir, outDir: out, minScore: 0.5, saveEmbeddings: false, input: workDir.rereadableInput(plan, input), virusFasta: 'reads_virus.fna' });
  assert.equal(readFileSync(join(out, 'reads_virus.fna'), 'utf8'), `>r1 lane=1\n${stopFree(45)}\n`);
  assert.deepEqual(
    readFileSync(join(out, OUTPUT_FILES.summary), 'utf8').trimEnd().split('\n').slice(1).map((l) => l.split('\t').slice(0, 2).concat(l.split('\t')[5])),
    [['r1', '45', 'virus'], ['r2', '30', 'non_virus']],
  );
});

test('an input changed after planning stops the viral FASTA with an InputError, and no output is committed', async () => {
  const r = await planned(`>a\n${stopFree(30)}\n>b\n${stopFree(30)}\n`, 30, 1e9, () => [0.25, 0.75]);
  writeFileSync(r.input, `>a\n${stopFree(30)}\n>b\n${stopFree(27)}AAA\n`);
  await assert.rejects(finalize(r), (e: unknown) => {
    assert.ok(e instanceof InputError, String(e));
    assert.match(e.message, /in\.fa changed since the run read it/);
    assert.match(e.hint ?? '', /--resume|--force/);
    return true;
  });
  assert.deepEqual(readdirSync(r.out).filter((n) => n !== 'work'), [], 'no output file');
});

test('chunk verdicts sort as Python sorts: by code point, so astral ids after U+E000..U+FFFF, chunk_10 before chunk_2', async () => {
  const ids = ['\u{1F600}x', '\uE000x', '\uFFFDx', 'Zx', '\u00e9x', 'ax'];
  const fasta = ids.map((id) => `>${id}\n${stopFree(30)}\n`).join('') + `>long\n${stopFree(330)}\n`;
  // Several shards, so the sort has to merge verdicts from all of them.
  const r = await planned(fasta, 30, 100, () => [0.25, 0.75]);
  assert.ok(r.plan.shards.length > 2);
  await finalize(r);
  const keys = read(r, OUTPUT_FILES.highestScore).trimEnd().split('\n').slice(1).map((l) => l.split('\t')[0]);
  assert.deepEqual(keys, [
    'Zx_chunk_1',
    'ax_chunk_1',
    ...[1, 10, 11, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => `long_chunk_${k}`),
    '\u00e9x_chunk_1',
    '\uE000x_chunk_1',
    '\uFFFDx_chunk_1',
    '\u{1F600}x_chunk_1',
  ]);
  // prediction_results.txt and summary.tsv keep input order.
  const summaryIds = read(r, OUTPUT_FILES.summary).trimEnd().split('\n').slice(1).map((l) => l.split('\t')[0]);
  assert.deepEqual(summaryIds, [...ids, 'long']);
});

test('every table starts with its header line (no comment lines); --save-embeddings links each shard result with its frame ids', async () => {
  const r = await planned(`>a\n${stopFree(60)}\n>b\n${stopFree(33)}\n`, 30, 50, () => [0.25, 0.75], 4);
  assert.ok(r.plan.shards.length >= 2);
  await finalize(r, { saveEmbeddings: true });
  assert.equal(read(r, OUTPUT_FILES.predictions).split('\n')[0], 'Sequence_ID\tPrediction\tscore1\tscore2');
  assert.equal(read(r, OUTPUT_FILES.summary).split('\n')[0], SUMMARY_HEADER);
  assert.equal(read(r, OUTPUT_FILES.highestScore).split('\n')[0], 'Modified_ID\tIs_Virus');
  const dir = join(r.out, OUTPUT_FILES.embeddings);
  const expected = r.plan.shards.flatMap((s) => [`shard-${String(s.index).padStart(6, '0')}.bin`, `shard-${String(s.index).padStart(6, '0')}.ids`]);
  assert.deepEqual(readdirSync(dir).sort(), expected.sort());
  const allIds: string[] = [];
  for (const s of r.plan.shards) {
    const base = `shard-${String(s.index).padStart(6, '0')}`;
    assert.deepEqual(readFileSync(join(dir, `${base}.bin`)), readFileSync(r.workDir.path(shardResultName(s.index))));
    const ids = readFileSync(join(dir, `${base}.ids`), 'utf8');
    assert.ok(ids.endsWith('\n'));
    const frameIds = parseShardInput(readFileSync(r.workDir.path(shardInputName(s.index)), 'utf8'), 's').map((f) => f.id);
    assert.deepEqual(ids.slice(0, -1).split('\n'), frameIds);
    allIds.push(...frameIds);
  }
  const rows = read(r, OUTPUT_FILES.predictions).trimEnd().split('\n').slice(1).map((l) => l.split('\t')[0]);
  assert.deepEqual(rows, allIds);
  // Written again (a resumed run that died after exporting): the folder and files exist, the result stays intact.
  const before = readFileSync(r.workDir.path(shardResultName(1)));
  await finalize(r, { saveEmbeddings: true });
  assert.deepEqual(readFileSync(r.workDir.path(shardResultName(1))), before);
  assert.deepEqual(readFileSync(join(dir, 'shard-000001.bin')), before);
  assert.equal(read(r, OUTPUT_FILES.summary).split('\n')[0], SUMMARY_HEADER);
  // Without the flag there is no embeddings folder.
  const plain = await planned(`>a\n${stopFree(60)}\n`, 30, 1e9, () => [0.25, 0.75]);
  await finalize(plain);
  assert.ok(!existsSync(join(plain.out, OUTPUT_FILES.embeddings)));
  assert.ok(statSync(join(plain.out, OUTPUT_FILES.summary)).isFile());
});

test('records before, between and after the scored ones are all summarised, in input order', async () => {
  const fasta = `>none1\n${ALL_FRAMES_STOP}\n>s1\n${stopFree(30)}\n>empty\n\n>none2\nAC\n>s2\n${stopFree(30)}\n>none3\n${ALL_FRAMES_STOP}\n`;
  const r = await planned(fasta, 30, 1e9, () => [0.25, 0.75]);
  await finalize(r);
  assert.deepEqual(read(r, OUTPUT_FILES.summary).trimEnd().split('\n').slice(1), [
    'none1\t13\t1\t0\tNA\tnot_scored\tno_stop_free_frame\t0\t0\tNA',
    's1\t30\t1\t6\t0.75\tvirus\tok\t1\t1\t1.0000',
    'empty\t0\t0\t0\tNA\tnot_scored\tempty\t0\t0\tNA',
    'none2\t2\t1\t0\tNA\tnot_scored\tshorter_than_codon\t0\t0\tNA',
    's2\t30\t1\t6\t0.75\tvirus\tok\t1\t1\t1.0000',
    'none3\t13\t1\t0\tNA\tnot_scored\tno_stop_free_frame\t0\t0\tNA',
  ]);
  assert.equal(read(r, VIRUS_FNA), `>s1\n${stopFree(30)}\n>s2\n${stopFree(30)}\n`);
  // No frame at all: every record is still listed, and both result files hold their headers only.
  const none = await planned(`>x\n${ALL_FRAMES_STOP}\n>y\n\n`, 100, 1e9, () => [0.5, 0.5]);
  assert.deepEqual(await finalize(none), { rows: 0, chunkVerdicts: 0, virusChunks: 0, virusRecords: 0 });
  assert.equal(
    read(none, OUTPUT_FILES.summary),
    `${SUMMARY_HEADER}\nx\t13\t1\t0\tNA\tnot_scored\tno_stop_free_frame\t0\t0\tNA\ny\t0\t0\t0\tNA\tnot_scored\tempty\t0\t0\tNA\n`,
  );
  assert.equal(read(none, VIRUS_FNA), '', 'no record called virus: an empty viral FASTA');
  assert.equal(read(none, OUTPUT_FILES.predictions), 'Sequence_ID\tPrediction\tscore1\tscore2\n');
  assert.equal(read(none, OUTPUT_FILES.highestScore), 'Modified_ID\tIs_Virus\n');
});

test('a damaged work folder stops finalize with an InputError naming the file, and no output is committed', async () => {
  const fasta = `>a\n${stopFree(60)}\n>b\nAC\n>c\n${stopFree(45)}\n>d\n\n>e\n${stopFree(30)}\n`;
  const r = await planned(fasta, 30, 40, () => [0.25, 0.75]);
  assert.ok(r.plan.shards.length >= 2);
  const recordsPath = r.workDir.recordsPath;
  const original = readFileSync(recordsPath, 'utf8');
  const lines = original.split('\n');
  const expectFailure = async (what: string, reason: RegExp, plan: RunPlan = r.plan) => {
    await assert.rejects(
      writeOutputs({ plan, workDir: r.workDir, outDir: r.out, minScore: 0.5, saveEmbeddings: false, input: r.workDir.rereadableInput(plan, r.input), virusFasta: VIRUS_FNA }),
      (e: unknown) => {
        assert.ok(e instanceof InputError, `${what}: ${String(e)}`);
        assert.match(e.message, new RegExp(`^work folder ${r.workDir.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is damaged: `), what);
        assert.match(e.message, reason, what);
        assert.match(e.message, /; no output was written$/, what);
        assert.match(e.hint ?? '', /--resume/, what);
        return true;
      },
    );
    assert.deepEqual(readdirSync(r.out).filter((n) => !n.startsWith('work')), [], `${what}: nothing but the work folder`);
  };

  const damaged: Array<[string, string, RegExp]> = [
    ['no header', lines.slice(1).join('\n'), /records\.tsv does not start with its header line/],
    ['a row deleted', lines.filter((l) => !l.startsWith('1\t')).join('\n'), /records\.tsv has record 2 where record 1 belongs/],
    ['a row renumbered', lines.map((l) => l.replace(/^1\t/, '17\t')).join('\n'), /records\.tsv has record 17 where record 1 belongs/],
    ['the last row deleted', lines.filter((l) => !l.startsWith('4\t')).join('\n'), /records\.tsv has 4 records, the plan has 5/],
    ['a row edited', original.replace('\tb\t', '\tB\t'), /records\.tsv was modified since it was planned \(checksum mismatch\)/],
    ['truncated mid-row', original.slice(0, -3), /records\.tsv does not end with a line break \(truncated\)/],
  ];
  for (const [what, text, reason] of damaged) {
    writeFileSync(recordsPath, text);
    await expectFailure(what, reason);
  }
  rmSync(recordsPath);
  await expectFailure('records.tsv deleted', /records\.tsv is missing/);
  writeFileSync(recordsPath, original);

  // A plan that agrees with a shortened records.tsv, while a shard still has frames of the dropped records.
  const short = lines.slice(0, 3).join('\n') + '\n';
  writeFileSync(recordsPath, short);
  await expectFailure('records end early', /records\.tsv ends before record 2/, { ...r.plan, recordsFile: { sha256: sha256Hex(short), rows: 2 } });
  writeFileSync(recordsPath, original);

  const shardPath = r.workDir.path(shardInputName(2));
  const shardText = readFileSync(shardPath, 'utf8');
  writeFileSync(shardPath, shardText.replace('GCC', 'GCA'));
  await expectFailure('shard input edited', /shard-000002\.tsv modified since it was planned/);
  writeFileSync(shardPath, shardText);

  const resultPath = r.workDir.path(shardResultName(1));
  const result = readFileSync(resultPath);
  rmSync(resultPath);
  await expectFailure('result missing', /shard-000001\.result is not a valid result \(missing\)/);
  writeFileSync(resultPath, result);

  // Repaired, the same folder finalizes.
  const counts = await finalize(r);
  assert.equal(counts.rows, r.plan.counts.frames);
});
