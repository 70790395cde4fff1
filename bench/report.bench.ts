/**
 * report.html at scale: synthesises the output directory of a 1M-record run
 * (summary.tsv, prediction_results.txt, run.json, gpu_metrics.log and
 * work/units.jsonl, in a temp dir), then times `virnucpro report` on it in a
 * child process and reports the page's size, the time and the child's peak RSS
 * (and, for scale, the peak RSS of the same child that only loads the module).
 *
 *   npm run bench -- report                           (1,000,000 records; about a minute on 2 cores)
 *   BENCH_REPORT_RECORDS=100000 npm run bench -- report
 *
 * Records: 99% reads of 150-300 bp (one chunk), 1% contigs of 1-50 kb (up to 100
 * chunks); 0-3 scored frames per chunk; Illumina-style IDs (they compress as real ones do).
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '../src/util/random.js';

const here = fileURLToPath(import.meta.url);

/** Child mode: `report.bench.ts child DIR|-`: writes the report (or only loads the module) and prints its figures. */
if (process.argv[2] === 'child') {
  const { writeReport } = await import('../src/report/generate.js');
  const t0 = performance.now();
  const r = process.argv[3] === '-' ? null : await writeReport({ outDir: process.argv[3] });
  console.log(JSON.stringify({ seconds: (performance.now() - t0) / 1000, bytes: r?.bytes ?? 0, maxRssKiB: process.resourceUsage().maxRSS }));
  process.exit(0);
}

const records = Number(process.env.BENCH_REPORT_RECORDS ?? 1_000_000);

class Buffered {
  private buf = '';
  private readonly out: WriteStream;
  constructor(path: string) {
    this.out = createWriteStream(path);
  }
  async write(s: string): Promise<void> {
    this.buf += s;
    if (this.buf.length < 1 << 20) return;
    const chunk = this.buf;
    this.buf = '';
    if (!this.out.write(chunk)) await new Promise<void>((r) => this.out.once('drain', () => r()));
  }
  async close(): Promise<void> {
    this.out.end(this.buf);
    await new Promise<void>((r) => this.out.on('close', () => r()));
  }
}

async function synthesise(dir: string, n: number): Promise<{ frames: number }> {
  const rand = seededRandom(n);
  const summary = new Buffered(join(dir, 'summary.tsv'));
  const predictions = new Buffered(join(dir, 'prediction_results.txt'));
  await summary.write('id\tlength\tchunks\tframes_scored\tmax_virus_score\tverdict\tstatus\n');
  await predictions.write('Sequence_ID\tPrediction\tscore1\tscore2\n');
  let frames = 0;
  let virus = 0;
  for (let i = 0; i < n; i++) {
    const id = `A00123:45:HXXXXDSXX:${1 + (i % 4)}:${1101 + Math.floor(i / 40000)}:${Math.floor(rand() * 32000)}:${1000 + (i % 37000)}`;
    const contig = rand() < 0.01;
    const length = contig ? 1000 + Math.floor(rand() * 49000) : 150 + Math.floor(rand() * 151);
    const chunks = Math.ceil(length / 500);
    const viral = rand() < 0.2;
    let scored = 0;
    let best = -1;
    for (let k = 1; k <= chunks; k++) {
      const f = Math.floor(rand() * 4);
      for (let j = 0; j < f; j++) {
        const s2 = viral ? 0.5 + 0.5 * rand() : 0.5 * rand();
        best = Math.max(best, s2);
        const t2 = s2.toPrecision(8);
        await predictions.write(`${id}_chunk_${k}${j < 3 ? 'F' : 'R'}${1 + (j % 3)}\t${s2 > 0.5 ? 'virus' : 'others'}\t${(1 - s2).toPrecision(8)}\t${t2}\n`);
        scored++;
      }
    }
    frames += scored;
    const verdict = scored === 0 ? 'not_scored' : best > 0.5 ? 'virus' : 'non_virus';
    if (verdict === 'virus') virus++;
    await summary.write(`${id}\t${length}\t${chunks}\t${scored}\t${scored ? best.toPrecision(8) : 'NA'}\t${verdict}\t${scored ? 'ok' : 'no_stop_free_frame'}\n`);
  }
  await summary.close();
  await predictions.close();

  // Four GPUs for two hours: a metrics row per device every 2 s, and 800 shards.
  const devices = ['cuda:0', 'cuda:1', 'cuda:2', 'cuda:3'];
  const start = Date.parse('2026-01-01T00:00:00Z');
  const metrics = new Buffered(join(dir, 'gpu_metrics.log'));
  await metrics.write('timestamp,device,sequences_per_s,tokens_per_s,utilization_pct,memory_pct,memory_used_mib,temperature_c,power_w,queue_depth,state\n');
  for (let t = 0; t < 7200; t += 2) {
    for (const d of devices) {
      const u = 80 + 20 * rand();
      await metrics.write(`${new Date(start + t * 1000).toISOString()},${d},${(100 + 50 * rand()).toFixed(2)},${(30000 + 9000 * rand()).toFixed(1)},${u.toFixed(1)},62.0,88000,65,450.0,3,busy\n`);
    }
  }
  await metrics.close();
  mkdirSync(join(dir, 'work'));
  const units = new Buffered(join(dir, 'work', 'units.jsonl'));
  const clock = devices.map(() => start);
  for (let s = 1; s <= 800; s++) {
    const d = s % devices.length;
    const seconds = 30 + 10 * rand();
    await units.write(`${JSON.stringify({ unit: `shard-${s}`, device: devices[d], start: clock[d], end: clock[d] + seconds * 1000, stolen: s > 760 && d === 0, backup: false })}\n`);
    clock[d] += seconds * 1000;
  }
  await units.close();
  writeFileSync(
    join(dir, 'run.json'),
    JSON.stringify({
      tool: { name: 'virnucpro', version: 'bench' },
      complete: true,
      input: { path: '/data/reads.fq.gz', sha256: '0'.repeat(64) },
      parameters: { expected_length: 500, min_score: 0.5, devices },
      counts: { records: n, frames, virus_records: virus },
      stages_s: { models: 12, plan: 300, compute: 7200, outputs: 120 },
      devices: devices.map((device) => ({ device, name: 'NVIDIA H100', shards: 200 })),
      steals: [],
    }),
  );
  return { frames };
}

function runChild(target: string): { seconds: number; bytes: number; maxRssKiB: number } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', here, 'child', target], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`report child exited with ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

const dir = mkdtempSync(join(tmpdir(), 'virnucpro-bench-report-'));
try {
  const t0 = performance.now();
  const { frames } = await synthesise(dir, records);
  const made = (performance.now() - t0) / 1000;
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  console.log(`synthetic output directory: ${records} records, ${frames} frames (${made.toFixed(0)} s to write)\n`);
  const baseline = runChild('-');
  const r = runChild(dir);
  console.log('| records | summary.tsv | prediction_results.txt | report.html | time | peak RSS | peak RSS, module loaded only |');
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  console.log(
    `| ${records} | ${mib(statSync(join(dir, 'summary.tsv')).size)} | ${mib(statSync(join(dir, 'prediction_results.txt')).size)} | ${mib(r.bytes)} | ` +
      `${r.seconds.toFixed(1)} s | ${(r.maxRssKiB / 1024).toFixed(0)} MiB | ${(baseline.maxRssKiB / 1024).toFixed(0)} MiB |`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
