/**
 * `npm run bench -- translate`: throughput of the translate stage (read,
 * chunk, six-frame translate, select frames, write three FASTA files) on a
 * generated FASTA of BENCH_TRANSLATE_MB megabytes (default 110), in one
 * process on one core. When `python3` with Biopython is present, the
 * original's algorithm (bench/translate_reference.py) runs on the first
 * BENCH_TRANSLATE_PY_MB (default 8) megabytes for a side-by-side ratio, and
 * its outputs are compared byte for byte with ours on that file.
 */
import { mkdtempSync, rmSync, statSync, openSync, writeSync, closeSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { translateFile, type TranslateSummary } from '../src/io/translate-files.js';

const MB = 1e6;
const targetMb = Number(process.env.BENCH_TRANSLATE_MB ?? 110);
const pyMb = Number(process.env.BENCH_TRANSLATE_PY_MB ?? 8);
const work = mkdtempSync(join(tmpdir(), 'virnucpro-bench-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

/** Deterministic reads: lengths 150..3000 nt, 60-column lines, ~1% N, some lowercase records. */
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
    for (let i = 0; i < len; i++) {
      const r = rand();
      const c = r < 0.01 ? 'N' : 'ACGT'[Math.floor(r * 4)];
      block[used++] = (lower ? c.toLowerCase() : c).charCodeAt(0);
      if ((i + 1) % 60 === 0 || i === len - 1) block[used++] = 0x0a;
    }
    records++;
  }
  flush();
  closeSync(fd);
  return records;
}

/** Wall time, and CPU time of this process (user + system): the per-core figure on a shared machine. */
async function timeTranslate(input: string, outDir: string): Promise<{ seconds: number; cpuSeconds: number; summary: TranslateSummary }> {
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

const big = join(work, 'bench.fa');
const records = generateFasta(big, targetMb * MB);
const size = statSync(big).size;
// Warm-up on a small file so the JIT has compiled the hot loops, as it would on a long run.
const small = join(work, 'small.fa');
generateFasta(small, pyMb * MB);
await timeTranslate(small, join(work, 'warm'));

const ts = await timeTranslate(big, join(work, 'ts'));
const rows: string[][] = [
  ['implementation', 'input', 'records', 'seconds', 'MB/s', 'records/s'],
  [
    'virnucpro-ts translate (1 core)',
    `${(size / MB).toFixed(1)} MB`,
    String(records),
    ts.seconds.toFixed(2),
    (size / MB / ts.seconds).toFixed(1),
    Math.round(records / ts.seconds).toString(),
  ],
];
console.log(`CPU time ${ts.cpuSeconds.toFixed(2)} s: ${(size / MB / ts.cpuSeconds).toFixed(1)} MB per CPU-second`);
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB; ${ts.summary.chunks} chunks, ${ts.summary.framesKept} frames kept`);

const python = findBiopython();
if (python) {
  const smallSize = statSync(small).size;
  const smallRecords = readFileSync(small, 'latin1').split('>').length - 1;
  const pyOut = join(work, 'py');
  spawnSync('mkdir', ['-p', pyOut]);
  const t0 = process.hrtime.bigint();
  const ref = spawnSync(python, [fileURLToPath(new URL('./translate_reference.py', import.meta.url)), small, '500', pyOut], { stdio: 'inherit' });
  const pySeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (ref.status !== 0) throw new Error('reference run failed');
  const tsSmall = await timeTranslate(small, join(work, 'ts-small'));
  const same = ['chunked500.fa', 'identified_nucleotide.fa', 'identified_protein.faa'].every((suffix) =>
    readFileSync(join(pyOut, `ref_${suffix}`)).equals(readFileSync(join(work, 'ts-small', `small_${suffix}`))),
  );
  rows.push([
    'original algorithm (Python + Biopython)',
    `${(smallSize / MB).toFixed(1)} MB`,
    String(smallRecords),
    pySeconds.toFixed(2),
    (smallSize / MB / pySeconds).toFixed(2),
    Math.round(smallRecords / pySeconds).toString(),
  ]);
  rows.push([
    'virnucpro-ts on the same file',
    `${(smallSize / MB).toFixed(1)} MB`,
    String(smallRecords),
    tsSmall.seconds.toFixed(2),
    (smallSize / MB / tsSmall.seconds).toFixed(1),
    Math.round(smallRecords / tsSmall.seconds).toString(),
  ]);
  console.log(`outputs identical to the reference: ${same ? 'yes' : 'NO'}`);
  console.log(`speed-up: ${(pySeconds / tsSmall.seconds).toFixed(0)}x on the same file; ${(size / ts.seconds / (smallSize / pySeconds)).toFixed(0)}x MB/s (large file vs reference)`);
  if (!same) process.exitCode = 1;
} else {
  console.log('python3 with Biopython not found: no side-by-side (apt-get install python3-biopython)');
}
console.log('');
console.log(rows.map((r) => `| ${r.join(' | ')} |`).join('\n').replace(/\n/, `\n|${' --- |'.repeat(rows[0].length)}\n`));
