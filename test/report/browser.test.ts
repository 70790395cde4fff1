/**
 * report.html and the live dashboard in a real browser (Debian's chromium via playwright-core), on real
 * demo-model predict runs: no console error, no request beyond the page itself, the numbers of run.json
 * and summary.tsv on screen, the table's filter, a score track for a record found by search, and a live
 * page that changes while a run goes. Screenshots land in test-artifacts/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { runCli } from '../cli-harness.js';
import { repoRoot, tempDir } from '../helpers.js';
import { ARTIFACTS, browserSkip, openBrowser, watchPage } from './browser.js';

const dir = tempDir('virnucpro-report-browser-');
const env = { VIRNUCPRO_CACHE: join(dir, 'cache') };
/** Two CPU workers and small shards with stealing: a timeline with several units per device. */
const PREDICT = ['predict', join(repoRoot, 'examples/example.fa'), '-e', '500', '--demo', '--devices', 'cpu:2', '--shard-tokens', '300', '--work-stealing'];

/** How many pixels of a canvas are drawn in red and in blue (the track's two colours). */
function trackPixels(page: Page, selector: string): Promise<{ red: number; blue: number }> {
  return page.evaluate(`(() => {
    const c = document.querySelector(${JSON.stringify(selector)});
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let red = 0, blue = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i] > 180 && d[i + 1] < 90 && d[i + 2] < 90) red++;
      if (d[i] < 80 && d[i + 1] < 100 && d[i + 2] > 110) blue++;
    }
    return { red, blue };
  })()`);
}

/** Polls `check` until it holds (the page's own CSP forbids the string evaluation waitForFunction needs). */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (await check()) return;
  assert.fail(`timed out waiting until ${what}`);
}

interface ModelFile {
  path: string;
  bytes: number;
  sha256: string;
}

const text = async (page: Page, selector: string) => ((await page.locator(selector).first().textContent()) ?? '').trim();
const number = async (page: Page, selector: string) => Number((await text(page, selector)).replace(/,/g, ''));

test('report.html of a demo run: no network, no console error, the numbers of run.json and summary.tsv, filter and tracks', { skip: browserSkip }, async () => {
  const out = join(dir, 'run');
  const run = await runCli([...PREDICT, '-o', out], { env, timeoutMs: 120_000 });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /report: .*report\.html/);
  const runJson = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
  const lines = readFileSync(join(out, 'summary.tsv'), 'utf8').trim().split('\n').filter((l) => !l.startsWith('#'));
  const header = lines[0].split('\t');
  const rows = lines.slice(1).map((l) => l.split('\t'));
  const verdictCounts: Record<string, number> = {};
  for (const r of rows) verdictCounts[r[header.indexOf('verdict')]] = (verdictCounts[r[header.indexOf('verdict')]] ?? 0) + 1;
  const units = readFileSync(join(out, 'work', 'units.jsonl'), 'utf8').trim().split('\n');
  assert.equal(units.length, runJson.counts.shards, 'one unit event per shard computed');

  const browser = await openBrowser();
  try {
    const page = await browser.newPage();
    const watch = watchPage(page);
    const url = pathToFileURL(join(out, 'report.html')).href;
    await page.goto(url);
    await page.waitForSelector('body[data-ready=true]');
    await page.waitForSelector('#tracks canvas');

    // The numbers on the page are those of the files.
    assert.equal(await number(page, '#total-records'), rows.length);
    assert.equal(rows.length, runJson.counts.records);
    for (const [verdict, n] of Object.entries(verdictCounts)) assert.equal(await number(page, `#verdict-counts [data-verdict=${verdict}] .count`), n, verdict);
    assert.equal(verdictCounts.virus, runJson.counts.virus_records);
    assert.equal(await text(page, '#run-summary td[data-key=input]'), runJson.input.path);
    assert.equal(await text(page, '#run-summary td[data-key="input sha256"]'), runJson.input.sha256);
    assert.equal(await text(page, '#models td[data-key="sha256 (graphs and weights run)"]'), runJson.models.sha256);
    // Every model file (sources and the graph files run) with run.json's size and sha256.
    const modelFiles = Object.entries(runJson.models.sources as Record<string, { sourceFiles: ModelFile[]; bundleFiles: ModelFile[] }>).flatMap(([model, s]) => [
      ...s.sourceFiles.map((f) => ({ model, role: 'source', ...f })),
      ...s.bundleFiles.map((f) => ({ model, role: 'bundle', ...f })),
    ]);
    assert.ok(modelFiles.length >= 9, 'three models, each with sources, graph and weights');
    assert.equal(await page.locator('#model-files tbody tr').count(), modelFiles.length);
    for (const f of modelFiles) {
      const row = `#model-files tr[data-model="${f.model}"][data-role=${f.role}][data-path="${f.path}"]`;
      assert.equal(await text(page, `${row} td[data-field=sha256]`), f.sha256, f.path);
      assert.equal(await number(page, `${row} td[data-field=bytes]`), f.bytes, f.path);
    }
    await page.locator('#summary').screenshot({ path: join(ARTIFACTS, 'report-summary.png') });
    for (const [stage, seconds] of Object.entries(runJson.stages_s as Record<string, number>)) {
      assert.equal(await text(page, `#stage-times td[data-stage=${stage}]`), `${seconds.toFixed(3)} s`, stage);
    }
    assert.equal(await page.locator('#devices-table tbody tr').count(), runJson.devices.length);
    for (const d of runJson.devices) assert.equal(await number(page, `#devices-table tr[data-device="${d.device}"] td[data-field=shards]`), d.shards);
    assert.equal(await page.locator('#timeline').getAttribute('data-units'), String(units.length));

    // The table holds every record (fewer than the top 1,000); the filters narrow it.
    assert.equal(await page.locator('#records-table tbody tr').count(), rows.length);
    await page.fill('#table-filter', 'synthetic_seq');
    assert.deepEqual(await page.locator('#records-table tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-id'))), ['synthetic_seq_1', 'synthetic_seq_2_lower'].filter((id) => rows.some((r) => r[0] === id)).sort((a, b) => {
      const score = (id: string) => Number(rows.find((r) => r[0] === id)![header.indexOf('max_virus_score')]);
      return score(b) - score(a);
    }));
    await page.fill('#table-filter', '');
    await page.selectOption('#verdict-filter', 'virus');
    assert.equal(await page.locator('#records-table tbody tr').count(), verdictCounts.virus);
    assert.equal(await page.locator('#records-table tbody td.verdict-virus').count(), verdictCounts.virus);
    await page.selectOption('#verdict-filter', '');
    // Sorting by length, shortest first.
    await page.click('#records-table th[data-col=length]');
    await page.click('#records-table th[data-col=length]');
    const shortest = rows.reduce((a, r) => (Number(r[1]) < Number(a[1]) ? r : a));
    assert.equal(await page.locator('#records-table tbody tr').first().getAttribute('data-id'), shortest[0]);

    // A track for a record found by search: a four-chunk record, drawn.
    const chosen = 'long_orf_1701';
    await page.fill('#track-search', chosen);
    await page.click('#track-form button');
    const canvas = `#tracks canvas[data-record="${chosen}"]`;
    await page.waitForSelector(canvas);
    const scored = rows.find((r) => r[0] === chosen)![header.indexOf('frames_scored')];
    assert.ok(Number(scored) > 0);
    assert.ok(Number(await page.locator(canvas).getAttribute('data-segments')) > 0);
    const pixels = await trackPixels(page, canvas);
    assert.ok(pixels.red + pixels.blue > 100, `the track is drawn (${JSON.stringify(pixels)})`);
    await page.locator('#tracks-section').screenshot({ path: join(ARTIFACTS, 'report-tracks.png') });
    await page.screenshot({ path: join(ARTIFACTS, 'report-demo.png'), fullPage: true });

    assert.deepEqual(watch.errors, []);
    assert.deepEqual(watch.requests.filter((r) => r !== url && !r.startsWith('data:')), [], 'the report makes no request');
  } finally {
    await browser.close();
  }
});

test('the live dashboard of a running predict updates through server-sent events', { skip: browserSkip }, async () => {
  const out = join(dir, 'live');
  let url: string | undefined;
  let held = false;
  let child: ReturnType<typeof import('node:child_process').spawn> | undefined;
  // Held after its first shard (VIRNUCPRO_TEST_HOLD=compute), the run goes on sampling and serving until killed.
  // -q: the dashboard's URL is printed all the same.
  const running = runCli([...PREDICT, '-o', out, '--dashboard-port', '0', '-q'], {
    env: { ...env, VIRNUCPRO_TEST_HOLD: 'compute' },
    timeoutMs: 120_000,
    onStderr: (stderr, c) => {
      child = c;
      url ??= /live dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr)?.[1];
      held ||= stderr.includes('VIRNUCPRO_TEST_HOLD compute');
    },
  });
  const browser = await openBrowser();
  try {
    for (let i = 0; i < 600 && !url; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(url, 'the log names the dashboard URL');
    const page = await browser.newPage();
    const watch = watchPage(page);
    await page.goto(url);
    await until('the first event arrives', async () => (await number(page, '#live-updates')) >= 1);
    const before = await number(page, '#live-updates');
    const elapsedBefore = await text(page, '#live-elapsed');
    // Numbers pushed by the server change on the open page: shards done, elapsed time, updates received.
    await until('a shard is done', async () => (await number(page, '#live-shards-done')) >= 1);
    await until('more updates arrive and the elapsed time moves', async () => (await number(page, '#live-updates')) > before && (await text(page, '#live-elapsed')) !== elapsedBefore);
    // The periodic samples (the rows gpu_metrics.log gets) arrive too, and are charted.
    await until('a metrics sample arrives', async () => /^Live samples/.test(await text(page, '#metrics-note')));
    await page.waitForSelector('#chart-throughput .uplot');
    assert.equal(await text(page, '#live-stage'), 'compute');
    assert.equal(await text(page, '#live-connection'), 'connected');
    assert.ok((await number(page, '#live-shards-total')) > 1);
    await page.waitForSelector('#timeline[data-units]');
    await page.screenshot({ path: join(ARTIFACTS, 'live-dashboard.png'), fullPage: true });
    assert.ok(held, 'the run was held mid-compute while the page updated');
    assert.deepEqual(watch.errors, []);
    const origin = new URL(url).origin;
    assert.deepEqual(watch.requests.filter((r) => !r.startsWith(origin)), [], 'the live page asks only its own server');
  } finally {
    await browser.close();
    child?.kill('SIGKILL');
    await running;
  }
});
