/**
 * `npm run bench -- translate`: throughput of the translate stage (read,
 * chunk, six-frame translate, select frames, write three FASTA files
 * atomically) on a generated FASTA of BENCH_TRANSLATE_MB megabytes (default
 * 110), in one process on one core, against the original's algorithm
 * (bench/translate_reference.py: Python + Biopython) on the same file.
 *
 * Fairness: both sides read the same file and write the same three files
 * (checked byte for byte). Each side runs several times (BENCH_TRANSLATE_RUNS,
 * default 5; BENCH_TRANSLATE_PY_RUNS, default 2) and the best and the median
 * are reported, because the machine may be shared (its load average is
 * printed before and after). The Python time is measured inside the script,
 * from after its imports (interpreter and Biopython start-up excluded); the
 * process wall time is printed too. Our time includes the fsync of the three
 * outputs (the atomic writer's guarantee), which Python does not do; with
 * TMPDIR=/dev/shm that costs nothing. BENCH_TRANSLATE_PY_MB cuts the Python
 * side (and the ratio) to a prefix of the file when Python is too slow to run
 * on all of it; BENCH_TRANSLATE_PY_RUNS=0 skips it.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, openSync, writeSync, closeSync, readFileSync, readSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { translateFile, type TranslateSummary } from '../src/pipeline/translate-files.js';

const MB = 1e6;
const targetMb = Number(process.env.BENCH_TRANSLATE_MB ?? 110);
const runs = Number(process.env.BENCH_TRANSLATE_RUNS ?? 5);
const pyRuns = Number(process.env.BENCH_TRANSLATE_PY_RUNS ?? 2);
const pyMb = process.env.BENCH_TRANSLATE_PY_MB ? Number(process.env.BENCH_TRANSLATE_PY_MB) : Infinity;
const kind = process.env.BENCH_TRANSLATE_KIND ?? 'random';
if (kind !== 'random' && kind !== 'coding') throw new Error(`BENCH_TRANSLATE_KIND must be random or coding, got ${kind}`);
const SENSE_CODONS = ['A', 'C', 'G', 'T']
  .flatMap((a) => ['A', 'C', 'G', 'T'].flatMap((b) => ['A', 'C', 'G', 'T'].map((c) => a + b + c)))
  .filter((codon) => !['TAA', 'TAG', 'TGA'].includes(codon));
const work = mkdtempSync(join(tmpdir(), 'virnucpro-bench-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

/**
 * Deterministic reads: lengths 150..3000 nt, 60-column lines, ~1% N, some lowercase records. With
 * BENCH_TRANSLATE_KIND=coding every read is instead an open reading frame (random sense codons, no stop) in
 * frame F1, so each chunk keeps at least one frame, as on real coding sequence; on random sequence almost
 * every frame meets a stop within a few dozen codons.
 */
function generateFasta(path: string, bytes: number): number {
  let state = 0x9e3779b9;
  const rand = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(4 << 20);
  let used = 0;
  let written = 0;
  let records = 0;
  const flush = () => {
    writeSync(fd, block, 0, used);
    written += used;
    used = 0;
  };
  while (written + used < bytes) {
    if (used > block.length - 8000) flush();
    const len = 150 + Math.floor(rand() * 2850);
    const lower = rand() < 0.1;
    used += block.write(`>read_${records} generated length=${len}\n`, used, 'latin1');
    let codon = '';
    for (let i = 0; i < len; i++) {
      let c: string;
      if (kind === 'coding') {
        if (i % 3 === 0) codon = SENSE_CODONS[Math.floor(rand() * SENSE_CODONS.length)];
        c = codon[i % 3];
      } else {
        const r = rand();
        c = r < 0.01 ? 'N' : 'ACGT'[Math.floor(r * 4)];
      }
      block[used++] = (lower ? c.toLowerCase() : c).charCodeAt(0);
      if ((i + 1) % 60 === 0 || i === len - 1) block[used++] = 0x0a;
    }
    records++;
  }
  flush();
  closeSync(fd);
  return records;
}

/** The first records of `path` up to about `bytes` bytes (cut at a record start), as a new file. */
function prefixFile(path: string, bytes: number, out: string): void {
  const buf = Buffer.alloc(bytes + 1);
  const fd = openSync(path, 'r');
  const n = readSync(fd, buf, 0, buf.length, 0);
  closeSync(fd);
  const cut = n <= bytes ? n : buf.lastIndexOf('\n>', bytes) + 1;
  const ofd = openSync(out, 'w');
  writeSync(ofd, buf, 0, cut);
  closeSync(ofd);
}

interface Timing {
  seconds: number;
  cpuSeconds: number;
  summary: TranslateSummary;
}

/** Wall time, and CPU time of this process (user + system): the per-core figure on a shared machine. */
async function timeTranslate(input: string, outDir: string): Promise<Timing> {
  globalThis.gc?.();
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const summary = await translateFile({ input, expectedLength: 500, outDir });
  const c = process.cpuUsage(c0);
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpuSeconds: (c.user + c.system) / 1e6, summary };
}

function findBiopython(): string | null {
  for (const py of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(py, ['-c', 'import Bio'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return null;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const best = (xs: number[]) => Math.min(...xs);
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const stemOf = (path: string) => path.replace(/^.*\//, '').replace(/\.fa$/, '');

console.log(`load average before (1, 5, 15 min): ${load()}; ${tmpdir()} for files; ${kind} reads`);
const big = join(work, 'bench.fa');
const records = generateFasta(big, targetMb * MB);
const size = statSync(big).size;
// Warm-up on a small file so the JIT has compiled the hot loops, as it would on a long run.
const small = join(work, 'small.fa');
generateFasta(small, 4 * MB);
await timeTranslate(small, join(work, 'warm'));

const ts: Timing[] = [];
for (let r = 0; r < runs; r++) {
  const out = join(work, `ts${r}`);
  ts.push(await timeTranslate(big, out));
  if (r < runs - 1) rmSync(out, { recursive: true });
}
const tsOut = join(work, `ts${runs - 1}`);
const wall = ts.map((t) => t.seconds);
const cpu = ts.map((t) => t.cpuSeconds);
const mbps = (s: number) => (size / MB / s).toFixed(1);
console.log(`${ts[0].summary.chunks} chunks, ${ts[0].summary.framesKept} frames kept; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
console.log(`virnucpro-ts wall s per run: ${wall.map((s) => s.toFixed(3)).join(', ')}; CPU s: ${cpu.map((s) => s.toFixed(3)).join(', ')}`);

const rows: string[][] = [
  ['implementation', 'input', 'runs', 'best s', 'median s', 'MB/s (best / median)', 'MB per CPU-second (best / median)'],
  [
    'virnucpro-ts translate (1 core)',
    `${(size / MB).toFixed(1)} MB, ${records} records`,
    String(runs),
    best(wall).toFixed(3),
    median(wall).toFixed(3),
    `${mbps(best(wall))} / ${mbps(median(wall))}`,
    `${mbps(best(cpu))} / ${mbps(median(cpu))}`,
  ],
];

const python = pyRuns > 0 ? findBiopython() : null;
if (python) {
  let pyInput = big;
  if (pyMb * MB < size) {
    pyInput = join(work, 'prefix.fa');
    prefixFile(big, pyMb * MB, pyInput);
  }
  const pySize = statSync(pyInput).size;
  const script = fileURLToPath(new URL('./translate_reference.py', import.meta.url));
  const inProcess: number[] = [];
  const inProcessCpu: number[] = [];
  const processWall: number[] = [];
  const pyOut = join(work, 'py');
  for (let r = 0; r < pyRuns; r++) {
    rmSync(pyOut, { recursive: true, force: true });
    mkdirSync(pyOut);
    const t0 = process.hrtime.bigint();
    const ref = spawnSync(python, [script, pyInput, '500', pyOut], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    processWall.push(Number(process.hrtime.bigint() - t0) / 1e9);
    if (ref.status !== 0) throw new Error('reference run failed');
    const reported = JSON.parse(ref.stdout.trim().split('\n').at(-1)!);
    inProcess.push(reported.seconds);
    inProcessCpu.push(reported.cpu_seconds);
  }
  console.log(
    `Python in-process s per run: ${inProcess.map((s) => s.toFixed(2)).join(', ')}; CPU s: ${inProcessCpu.map((s) => s.toFixed(2)).join(', ')}; ` +
      `process wall s (with start-up): ${processWall.map((s) => s.toFixed(2)).join(', ')}`,
  );
  // Our outputs on the very file Python read (the big file itself, or its prefix).
  let ours = tsOut;
  let oursTime = ts;
  if (pyInput !== big) {
    oursTime = [];
    for (let r = 0; r < runs; r++) oursTime.push(await timeTranslate(pyInput, (ours = join(work, `ts-prefix${r}`))));
  }
  const stem = stemOf(pyInput);
  const same = ['chunked500.fa', 'identified_nucleotide.fa', 'identified_protein.faa'].every((suffix) =>
    readFileSync(join(pyOut, `ref_${suffix}`)).equals(readFileSync(join(ours, `${stem}_${suffix}`))),
  );
  const pyMbps = (s: number) => (pySize / MB / s).toFixed(2);
  rows.push([
    'original algorithm (Python + Biopython), in-process',
    `${(pySize / MB).toFixed(1)} MB`,
    String(pyRuns),
    best(inProcess).toFixed(2),
    median(inProcess).toFixed(2),
    `${pyMbps(best(inProcess))} / ${pyMbps(median(inProcess))}`,
    `${pyMbps(best(inProcessCpu))} / ${pyMbps(median(inProcessCpu))}`,
  ]);
  const oursWall = oursTime.map((t) => t.seconds);
  if (pyInput !== big) {
    rows.push([
      'virnucpro-ts on the same prefix',
      `${(pySize / MB).toFixed(1)} MB`,
      String(runs),
      best(oursWall).toFixed(3),
      median(oursWall).toFixed(3),
      `${pyMbps(best(oursWall))} / ${pyMbps(median(oursWall))}`,
      '',
    ]);
  }
  console.log(`outputs identical to the reference on the same ${(pySize / MB).toFixed(1)} MB file: ${same ? 'yes' : 'NO'}`);
  console.log(
    `speed-up on the same file (Python in-process / ours, wall): best ${(best(inProcess) / best(oursWall)).toFixed(1)}x, ` +
      `median ${(median(inProcess) / median(oursWall)).toFixed(1)}x; ` +
      `with Python start-up (process wall): median ${(median(processWall) / median(oursWall)).toFixed(1)}x; ` +
      `CPU time (less sensitive to load): best ${(best(inProcessCpu) / best(oursTime.map((t) => t.cpuSeconds))).toFixed(1)}x, ` +
      `median ${(median(inProcessCpu) / median(oursTime.map((t) => t.cpuSeconds))).toFixed(1)}x`,
  );
  if (!same) process.exitCode = 1;
} else if (pyRuns > 0) {
  console.log('python3 with Biopython not found: no side-by-side (apt-get install python3-biopython)');
}
console.log(`load average after (1, 5, 15 min): ${load()}`);
console.log('');
console.log(rows.map((r) => `| ${r.join(' | ')} |`).join('\n').replace(/\n/, `\n|${' --- |'.repeat(rows[0].length)}\n`));
