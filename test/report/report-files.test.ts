/**
 * report.html from output directories built on the fly: the figures it carries (read back from the
 * page's JSON and its compressed index), how it reads each file, and what it refuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { gunzipSync } from 'node:zlib';
import { writeReport } from '../../src/report/generate.js';
import { MAX_POINTS, readMetricsSeries } from '../../src/report/metrics-series.js';
import { readTimeline } from '../../src/report/unit-events.js';
import { InputError } from '../../src/util/errors.js';
import { runCli } from '../cli-harness.js';
import { repoRoot, tempDir } from '../helpers.js';

interface OutDir {
  summary?: string[];
  predictions?: string[] | null;
  run?: unknown;
  metrics?: string[];
  units?: string[];
}

const SUMMARY_HEADER = 'id\tlength\tchunks\tframes_scored\tmax_virus_score\tverdict\tstatus';
const root = tempDir('virnucpro-report-');
/** A fresh directory under this file's temporary root. */
const freshDir = () => mkdtempSync(join(root, 'out-'));

function outDir(o: OutDir): string {
  const dir = freshDir();
  writeFileSync(join(dir, 'run.json'), JSON.stringify(o.run ?? { complete: true, parameters: { expected_length: 500, min_score: 0.5 } }));
  if (o.summary) writeFileSync(join(dir, 'summary.tsv'), o.summary.join('\n') + '\n');
  if (o.predictions) writeFileSync(join(dir, 'prediction_results.txt'), ['Sequence_ID\tPrediction\tscore1\tscore2', ...o.predictions].join('\n') + '\n');
  if (o.metrics) writeFileSync(join(dir, 'gpu_metrics.log'), o.metrics.join('\n') + '\n');
  if (o.units) {
    mkdirSync(join(dir, 'work'));
    writeFileSync(join(dir, 'work', 'units.jsonl'), o.units.join('\n'));
  }
  return dir;
}

/** The page's JSON data and its index columns, decompressed. */
function readPage(path: string): { data: any; column: (name: string) => Buffer } {
  const html = readFileSync(path, 'utf8');
  const data = JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]);
  const column = (name: string) => gunzipSync(Buffer.from(new RegExp(`id="index-${name}">([A-Za-z0-9+/=]*)</script>`).exec(html)![1], 'base64'));
  return { data, column };
}

const frame = (record: string, chunk: number, f: string, virus: number) => `${record}_chunk_${chunk}${f}\t${virus > 0.5 ? 'virus' : 'others'}\t${(1 - virus).toFixed(6)}\t${virus}`;

test('the page carries the verdict counts, histogram, best records first and every record in its search index', async () => {
  const dir = outDir({
    // A demo run's warning line before the header, and a column added after ours: both are fine.
    summary: [
      '# WARNING: demo models',
      `${SUMMARY_HEADER}\textra_col`,
      'r1\t1200\t3\t3\t0.9\tvirus\tok\tx1',
      'r2\t200\t1\t0\tNA\tnot_scored\tno_stop_free_frame\tx2',
      'r3\t300\t1\t2\t0.2\tnon_virus\tok\tx3',
      'r4\t300\t1\t1\t0.9\tvirus\tok\tx4',
    ],
    predictions: [frame('r1', 1, 'F1', 0.7), frame('r1', 1, 'R2', 0.8), frame('r1', 3, 'F2', 0.9), frame('r3', 1, 'F1', 0.1), frame('r3', 1, 'F3', 0.2), frame('r4', 1, 'R1', 0.9)],
  });
  const written = await writeReport({ outDir: dir, topRecords: 3 });
  assert.equal(written.records, 4);
  const { data, column } = readPage(written.path);
  assert.equal(data.mode, 'report');
  assert.deepEqual(data.records.verdicts, { virus: 2, not_scored: 1, non_virus: 1 });
  assert.equal(data.records.histogram.notScored, 1);
  assert.equal(data.records.histogram.counts[45], 2, '0.9 falls in bin 45 of 50');
  assert.equal(data.records.histogram.counts[10], 1);
  // The best three, ties in input order, with every column (the added one too).
  assert.deepEqual(data.records.columns.at(-1), 'extra_col');
  assert.deepEqual(data.records.top.map((r: string[]) => r[0]), ['r1', 'r4', 'r3']);
  assert.equal(data.records.top[0][7], 'x1');
  // The index: every record, in input order.
  assert.equal(column('ids').toString(), 'r1\nr2\nr3\nr4\n');
  assert.deepEqual([...column('lengths')], [0xb0, 0x09, 200 & 0x7f | 0x80, 1, 0xac, 0x02, 0xac, 0x02], 'LEB128 of 1200, 200, 300, 300');
  assert.deepEqual([...column('verdicts')].map((c) => data.records.index.verdictNames[c]), ['virus', 'not_scored', 'non_virus', 'virus']);
  assert.deepEqual([...column('chunkCounts')], [3, 1, 1, 1]);
  const scores = column('chunkScores');
  const u16 = Array.from({ length: scores.length / 2 }, (_, i) => scores.readUInt16LE(2 * i));
  // r1: chunk 1 = max(0.7, 0.8), chunk 2 has no frame, chunk 3 = 0.9; r2: one chunk, unscored; r3: 0.2; r4: 0.9.
  assert.deepEqual(u16, [0.8, NaN, 0.9, NaN, 0.2, 0.9].map((s) => (Number.isNaN(s) ? 0xffff : Math.round(s * 0xfffe))));
  assert.ok(data.notes.some((n: string) => /no unit log/.test(n)));
});

interface ModelFileRow {
  model: string;
  role: 'source' | 'bundle';
  path: string;
  bytes: number | null;
  sha256: string | null;
}

/** The page's list of model files (assets/report/model-files.js, the code report.js renders with), run in Node. */
function pageModelFiles(models: unknown): ModelFileRow[] {
  const context: { virnucproModelFiles?: (models: unknown) => ModelFileRow[] } = {};
  runInNewContext(readFileSync(join(repoRoot, 'assets/report/model-files.js'), 'utf8'), context);
  return JSON.parse(JSON.stringify(context.virnucproModelFiles!(models)));
}

test('the run summary lists every model file with the size and sha256 of run.json (a run.json without them: paths only)', async () => {
  const file = (path: string, bytes: number, c: string) => ({ path, bytes, sha256: c.repeat(64) });
  const models = {
    sha256: 'f'.repeat(64),
    precision: 'fp32',
    sources: {
      esm2: {
        bundle: '/b',
        sourceFormat: 'fair-esm checkpoint',
        sources: ['/m/esm2.pt'],
        sourceFiles: [file('/m/esm2.pt', 11_000_000_000, 'a')],
        bundleFiles: [file('/b/esm2.onnx', 1234, 'b'), file('/b/esm2.onnx.data', 5_600_000_000, 'c')],
      },
      // As a run.json written before the per-file checksums: the source paths alone.
      classifier: { bundle: '/b', sourceFormat: 'whole-module pickle', sources: ['/m/500_model.pth'], published: 'classifier-500' },
    },
  };
  const dir = outDir({ run: { complete: true, parameters: { expected_length: 500 }, models }, summary: [SUMMARY_HEADER] });
  const html = readFileSync((await writeReport({ outDir: dir })).path, 'utf8');
  const { data } = readPage(join(dir, 'report.html'));
  assert.deepEqual(data.run.models, models, 'the page carries run.json\'s models as they are');
  assert.match(html, /function virnucproModelFiles\(/, 'the page ships the code that lists them');
  assert.match(html, /<table id="model-files">/);
  const rows = pageModelFiles(data.run.models);
  const esm = models.sources.esm2;
  assert.deepEqual(rows, [
    ...esm.sourceFiles.map((f) => ({ model: 'esm2', role: 'source', ...f })),
    ...esm.bundleFiles.map((f) => ({ model: 'esm2', role: 'bundle', ...f })),
    { model: 'classifier', role: 'source', path: '/m/500_model.pth', bytes: null, sha256: null },
  ]);
  assert.deepEqual(pageModelFiles(undefined), []);
});

test('a frame of another record, or frames left over, stop the report with the file and line (exit code 2)', async () => {
  const summary = [SUMMARY_HEADER, 'a\t300\t1\t1\t0.9\tvirus\tok', 'b\t300\t1\t1\t0.9\tvirus\tok'];
  const swapped = outDir({ summary, predictions: [frame('a', 1, 'F1', 0.9), frame('c', 1, 'F1', 0.9)] });
  await assert.rejects(writeReport({ outDir: swapped }), (e: Error) => {
    assert.ok(e instanceof InputError);
    assert.match(e.message, /prediction_results\.txt:3: frame "c_chunk_1F1" where a frame of record "b" belongs/);
    return true;
  });
  const extra = outDir({ summary, predictions: [frame('a', 1, 'F1', 0.9), frame('b', 1, 'F1', 0.9), frame('b', 1, 'F2', 0.9)] });
  await assert.rejects(writeReport({ outDir: extra }), /prediction_results\.txt:4: a frame after the last record/);
  const short = outDir({ summary, predictions: [frame('a', 1, 'F1', 0.9)] });
  await assert.rejects(writeReport({ outDir: short }), /ends before the frames of record b/);
});

test('what the report refuses: no run.json, an incomplete run, no summary.tsv, a table that is not ours', async () => {
  const noRun = freshDir();
  await assert.rejects(writeReport({ outDir: noRun }), (e: InputError) => e instanceof InputError && /run\.json is missing/.test(e.message));
  await assert.rejects(writeReport({ outDir: join(noRun, 'nope') }), /no such directory/);
  const incomplete = outDir({ run: { complete: false }, summary: [SUMMARY_HEADER] });
  await assert.rejects(writeReport({ outDir: incomplete }), (e: InputError) => /incomplete/.test(e.message) && /--resume/.test(e.hint ?? ''));
  await assert.rejects(writeReport({ outDir: outDir({}) }), /summary\.tsv is missing/);
  await assert.rejects(writeReport({ outDir: outDir({ summary: ['name\tscore', 'a\t1'] }) }), /not a summary\.tsv of virnucpro/);
  const damaged = freshDir();
  writeFileSync(join(damaged, 'run.json'), '{"complete": tr');
  await assert.rejects(writeReport({ outDir: damaged }), /run\.json is not valid JSON/);
});

test('without prediction_results.txt the report is written, with no tracks and a note saying so', async () => {
  const dir = outDir({ summary: [SUMMARY_HEADER, 'a\t300\t1\t1\t0.9\tvirus\tok'], predictions: null });
  const { data } = readPage((await writeReport({ outDir: dir })).path);
  assert.equal(data.records.tracks, false);
  assert.ok(data.notes.some((n: string) => /prediction_results\.txt is missing/.test(n)));
});

test('gpu_metrics.log of any length gives at most MAX_POINTS points per device, averaged in order', async () => {
  const start = Date.parse('2026-01-01T00:00:00Z');
  const rows = ['timestamp,device,sequences_per_s,tokens_per_s,utilization_pct,memory_pct,memory_used_mib,temperature_c,power_w,queue_depth,state'];
  for (let i = 0; i < 5000; i++) {
    for (const d of ['cuda:0', 'cuda:1']) rows.push(`${new Date(start + 2000 * i).toISOString()},${d},10.00,100.0,${d === 'cuda:0' ? 50 : ''},,1000,,,1,busy`);
  }
  const dir = outDir({ metrics: rows });
  const series = (await readMetricsSeries(join(dir, 'gpu_metrics.log')))!;
  assert.equal(series.rows, 10000);
  assert.deepEqual(series.devices.map((d) => d.device), ['cuda:0', 'cuda:1']);
  for (const d of series.devices) {
    assert.ok(d.t.length <= MAX_POINTS && d.t.length > MAX_POINTS / 2, `${d.t.length} points`);
    assert.ok(d.t.every((t, i) => i === 0 || t > d.t[i - 1]));
    assert.ok(d.values.sequences_per_s.every((v) => v === 10));
  }
  assert.ok(series.devices[0].values.utilization_pct.every((v) => v === 50));
  assert.ok(series.devices[1].values.utilization_pct.every((v) => v === null), 'an empty cell stays unknown');
});

test('the unit log becomes the timeline; a torn last line (a killed run) is skipped', async () => {
  const e = (unit: string, device: string, start: number, end: number, stolen = false) => JSON.stringify({ unit, device, start, end, stolen, backup: false });
  const dir = outDir({ units: [e('shard-1', 'cpu:1', 1000, 3000), e('shard-2', 'cpu:0', 2000, 2500, true), '{"unit":"shard-3","dev'] });
  const tl = (await readTimeline(join(dir, 'work', 'units.jsonl')))!;
  assert.equal(tl.t0, 1000);
  assert.deepEqual(tl.devices, ['cpu:0', 'cpu:1']);
  assert.deepEqual(tl.units, [
    [1, 0, 2, 0, 'shard-1'],
    [0, 1, 1.5, 1, 'shard-2'],
  ]);
  assert.equal(await readTimeline(join(dir, 'missing.jsonl')), null);
});

test('`virnucpro report OUTDIR` writes the page, and says what is wrong with a directory that has no run (exit code 2)', async () => {
  const dir = outDir({ summary: [SUMMARY_HEADER, 'a\t300\t1\t0\tNA\tnot_scored\tno_stop_free_frame'], predictions: [] });
  const ok = await runCli(['report', dir, '-o', join(dir, 'again.html')]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(readFileSync(join(dir, 'again.html'), 'utf8'), /^<!doctype html>/);
  const empty = freshDir();
  const bad = await runCli(['report', empty]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /error: .*run\.json is missing/);
  assert.match(bad.stderr, /hint: give the output directory of a finished `virnucpro predict` run/);
});
