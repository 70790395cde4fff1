/**
 * What users take downstream from `predict`, through the real CLI on the demo models:
 * `<stem>_virus.fna`, summary.tsv's chunk columns, plain tables (no warning lines: pandas
 * reads them with its defaults), FASTQ on stdin (`-`, gzip) giving the same results as the
 * FASTA file, the copy of stdin that a resumed run reads instead of stdin, `--min-length`
 * (recorded and enforced on --resume), bad FASTQ as exit code 2, and run.json's warnings
 * and command line (passwords in URLs redacted).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CLI, assertNoInternalError, type CliRun } from '../cli-harness.js';
import { fixture, tempDir, tsxImport } from '../helpers.js';
import { redactCommandLine } from '../../src/util/command-line.js';

const root = tempDir('virnucpro-downstream-');
const ENV = { VIRNUCPRO_CACHE: join(root, 'cache') };
const FASTA = fixture('e2e/input.fa');
/** Small shards, so a kill during compute leaves some done and some not. */
const ARGS = ['-e', '500', '--demo', '--shard-tokens', '300'];
const TABLES = ['prediction_results.txt', 'prediction_results_highestscore.csv', 'summary.tsv'];
const OUTPUTS = [...TABLES];

const e2e = JSON.parse(readFileSync(fixture('e2e/expected_e2e.json'), 'utf8')) as { input_records: Array<{ id: string; description: string; sequence: string }> };
/** The e2e records as FASTQ (same titles and sequences; empty records included). */
const FASTQ = e2e.input_records.map((r) => `@${r.description}\n${r.sequence}\n+\n${'I'.repeat(r.sequence.length)}\n`).join('');

interface Run extends CliRun {
  code: number | null;
}

/**
 * Runs `virnucpro ARGS` with `stdin` piped in (or a pipe that stays open and is never written:
 * a run that read it would hang, and the timeout would fail the test), killing it at `killAt`.
 */
function run(args: string[], o: { cwd?: string; stdin?: Buffer | 'open'; killAt?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...ENV, ...(o.killAt ? { VIRNUCPRO_TEST_HOLD: o.killAt } : {}) };
    const child = spawn(process.execPath, ['--import', tsxImport, CLI, ...args], { cwd: o.cwd ?? root, env, stdio: [o.stdin ? 'pipe' : 'ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 300_000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (o.killAt && stderr.includes(`VIRNUCPRO_TEST_HOLD ${o.killAt}`)) child.kill('SIGKILL');
    });
    if (Buffer.isBuffer(o.stdin)) {
      child.stdin!.on('error', () => undefined); // a run that stops early closes its end
      child.stdin!.end(o.stdin);
    }
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (o.stdin === 'open') child.stdin!.destroy();
      resolve({ code, signal, stderr });
    });
  });
}

const read = (dir: string, name: string) => readFileSync(join(dir, name), 'utf8');

/**
 * What `pandas.read_csv(path, sep="\t")` needs with its defaults: the header on the first line
 * (no comment or warning line before it), every row with as many fields as the header, and no
 * field opening with a quote character. Where pandas is installed, it reads the file too.
 */
function assertPandasReadable(path: string): void {
  const lines = readFileSync(path, 'utf8').split('\n');
  assert.equal(lines.pop(), '', `${path} ends with a newline`);
  const width = lines[0].split('\t').length;
  assert.ok(width >= 2 && !lines[0].startsWith('#'), `${path}: a header line first, got '${lines[0]}'`);
  lines.forEach((l, i) => {
    const fields = l.split('\t');
    assert.equal(fields.length, width, `${path} line ${i + 1}: ${fields.length} fields, the header has ${width}`);
    assert.ok(!fields.some((f) => f.startsWith('"')), `${path} line ${i + 1}: no quoted field`);
  });
  const python = pythonWithPandas();
  if (python === undefined) return;
  const read = spawnSync(python, ['-c', 'import sys, json, pandas; df = pandas.read_csv(sys.argv[1], sep="\\t"); print(json.dumps([len(df), list(df.columns)]))', path], { encoding: 'utf8' });
  assert.equal(read.status, 0, `${path}: pandas.read_csv failed: ${read.stderr}`);
  const [rows, columns] = JSON.parse(read.stdout) as [number, string[]];
  assert.equal(rows, lines.length - 1, `${path}: rows pandas read`);
  assert.deepEqual(columns, lines[0].split('\t'), `${path}: columns pandas read`);
}

/** A Python that has pandas (Debian's python3-pandas, installed by .ci/run, lives under /usr/bin), else undefined. */
function pythonWithPandas(): string | undefined {
  for (const python of ['/usr/bin/python3', 'python3']) {
    if (spawnSync(python, ['-c', 'import pandas'], { stdio: 'ignore' }).status === 0) return python;
  }
  return undefined;
}

/** The records of a FASTA file as [title, sequence]. */
function fastaRecords(text: string): Array<[string, string]> {
  return text
    .split('>')
    .slice(1)
    .map((block) => {
      const [title, ...seq] = block.split('\n');
      return [title, seq.join('')];
    });
}

let reference: { dir: string; out: string } | null = null;
/** An uninterrupted run on the FASTA file (demo models, small shards): what every variant must equal. */
async function referenceRun(): Promise<{ dir: string; out: string }> {
  if (reference) return reference;
  const dir = tempDir();
  const r = await run(['predict', FASTA, ...ARGS, '-q'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  reference = { dir, out: join(dir, 'input_virnucpro') };
  return reference;
}

test('FASTQ on stdin (gzip) gives the FASTA run\'s results in stdin_virnucpro: plain tables, the viral records, warnings and command line in run.json', async () => {
  const ref = await referenceRun();
  const cwd = tempDir();
  const r = await run(['predict', '-', ...ARGS], { cwd, stdin: gzipSync(FASTQ) });
  assert.equal(r.code, 0, r.stderr);
  const out = join(cwd, 'stdin_virnucpro');
  for (const f of OUTPUTS) assert.equal(read(out, f), read(ref.out, f), `${f}: the same as from the FASTA file`);
  assert.equal(read(out, 'stdin_virus.fna'), read(ref.out, 'input_virus.fna'), 'the same viral records, FASTQ titles as headers');

  // <stem>_virus.fna: exactly the records summary.tsv calls virus, in input order, whole, with their titles.
  const summary = read(ref.out, 'summary.tsv').trimEnd().split('\n').map((l) => l.split('\t'));
  const header = summary[0];
  assert.deepEqual(header.slice(-3), ['chunks_scored', 'virus_chunks', 'virus_fraction']);
  const col = (name: string) => header.indexOf(name);
  const virusIds = summary.slice(1).filter((row) => row[col('verdict')] === 'virus').map((row) => row[col('id')]);
  assert.ok(virusIds.length > 0 && virusIds.length < summary.length - 1, 'some records are virus, some not');
  const byId = new Map(e2e.input_records.map((rec) => [rec.id, rec]));
  assert.deepEqual(
    fastaRecords(read(ref.out, 'input_virus.fna')),
    virusIds.map((id) => [byId.get(id)!.description, byId.get(id)!.sequence]),
  );
  assert.ok(read(ref.out, 'input_virus.fna').split('\n').every((l) => l.length <= 60 || l.startsWith('>')), '60 columns');
  for (const row of summary.slice(1)) {
    const virusChunks = Number(row[col('virus_chunks')]);
    assert.equal(virusChunks > 0, row[col('verdict')] === 'virus', `${row[0]}: virus exactly when a chunk is`);
    assert.ok(Number(row[col('chunks_scored')]) <= Number(row[col('chunks')]));
    if (row[col('verdict')] === 'not_scored') assert.equal(row[col('virus_fraction')], 'NA');
    else assert.match(row[col('virus_fraction')], /^[01]\.\d{4}$/);
  }

  // Tables: no warning line (pandas with its defaults); the warning is on stderr, in run.json and its own file.
  for (const f of TABLES) assertPandasReadable(join(out, f));
  assert.match(r.stderr, /WARNING: DEMO MODELS/);
  const runJson = JSON.parse(read(out, 'run.json'));
  assert.equal(runJson.warnings.length, 1);
  assert.match(runJson.warnings[0], /^WARNING: DEMO MODELS/);
  assert.match(read(out, 'DEMO_MODELS_WARNING.txt'), /mean NOTHING/);
  assert.deepEqual(runJson.command_line, ['virnucpro', 'predict', '-', ...ARGS]);
  assert.deepEqual(runJson.input, { path: '-', stdin: true, format: 'fastq', sha256: runJson.input.sha256, copy: 'work/stdin.copy' });
  assert.ok(runJson.outputs.includes('stdin_virus.fna'));
  assert.equal(JSON.parse(read(ref.out, 'run.json')).input.format, 'fasta');
});

test('a stdin run killed during compute resumes from its copy of stdin, never reading stdin, to byte-identical outputs', async () => {
  const ref = await referenceRun();
  const out = join(tempDir(), 'crash');
  const killed = await run(['predict', '-', ...ARGS, '-o', out, '-q'], { stdin: gzipSync(FASTQ), killAt: 'compute' });
  assert.equal(killed.signal, 'SIGKILL', killed.stderr);
  assert.ok(existsSync(join(out, 'work', 'stdin.copy')));

  // stdin stays open and empty: reading it would hang until the timeout.
  const resumed = await run(['predict', '-', ...ARGS, '-o', out, '--resume'], { stdin: 'open', timeoutMs: 120_000 });
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /the input was stdin: resuming from its copy in \S+stdin\.copy \(stdin is not read\)/);
  for (const f of OUTPUTS) assert.equal(read(out, f), read(ref.out, f), f);
  assert.equal(read(out, 'stdin_virus.fna'), read(ref.out, 'input_virus.fna'));

  // A damaged copy: refused, naming it, never read from stdin instead.
  appendFileSync(join(out, 'work', 'stdin.copy'), 'x');
  const damaged = await run(['predict', '-', ...ARGS, '-o', out, '--resume'], { stdin: 'open', timeoutMs: 120_000 });
  assert.equal(damaged.code, 2, damaged.stderr);
  assert.match(damaged.stderr, /cannot resume the run in \S+: its input came from stdin, and the copy saved in \S+stdin\.copy is damaged/);
  assert.match(damaged.stderr, /hint: start over: pipe the input again, with --force/);
  assertNoInternalError(damaged);

  // A run that read a file cannot be resumed from stdin.
  const fromFile = await run(['predict', '-', ...ARGS, '-o', ref.out, '--resume'], { stdin: 'open', timeoutMs: 120_000 });
  assert.equal(fromFile.code, 2, fromFile.stderr);
  assert.match(fromFile.stderr, /cannot resume the run in \S+ from stdin \('-'\): that run read its input from a file, not from stdin/);
  assertNoInternalError(fromFile);
});

test('--min-length: shorter records are too_short and not scored; plan.json and run.json record it; --resume with another value is refused', async () => {
  const dir = tempDir();
  const out = join(dir, 'ml');
  const r = await run(['predict', FASTA, ...ARGS, '--min-length', '200', '-o', out, '-q'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const rows = read(out, 'summary.tsv').trimEnd().split('\n').slice(1).map((l) => l.split('\t'));
  const short = e2e.input_records.filter((rec) => rec.sequence.length > 0 && rec.sequence.length < 200).map((rec) => rec.id);
  assert.ok(short.length > 0 && short.length < rows.length);
  for (const row of rows) {
    if (short.includes(row[0])) assert.deepEqual(row.slice(2), ['0', '0', 'NA', 'not_scored', 'too_short', '0', '0', 'NA'], row[0]);
    else assert.notEqual(row[6], 'too_short', row[0]);
  }
  assert.ok(!short.some((id) => read(out, 'prediction_results.txt').includes(`${id}_chunk_`)), 'no frame of a short record is scored');
  assert.equal(JSON.parse(read(out, 'work/plan.json')).fingerprint.minLength, 200);
  const runJson = JSON.parse(read(out, 'run.json'));
  assert.equal(runJson.parameters.min_length, 200);
  assert.equal(runJson.counts.records_without_frames.too_short, short.length);

  const other = await run(['predict', FASTA, ...ARGS, '--min-length', '100', '-o', out, '--resume'], { cwd: dir });
  assert.equal(other.code, 2, other.stderr);
  assert.match(other.stderr, /cannot resume the run in \S+: the parameters changed since it was started/);
  assert.match(other.stderr, /minLength: 200 \(interrupted run\) vs 100 \(now\)/);
  const off = await run(['predict', FASTA, ...ARGS, '-o', out, '--resume'], { cwd: dir });
  assert.equal(off.code, 2);
  assert.match(off.stderr, /minLength: 200 \(interrupted run\) vs 0 \(now\)/);
});

test('bad FASTQ through predict: exit code 2 naming the file, line and record; no output', async () => {
  const dir = tempDir();
  const input = join(dir, 'reads.fq.gz');
  writeFileSync(input, gzipSync('@r1\nACGTACGT\n+\nIIIIIIII\n@r2 x\nACGTACGT\n+\nIIII\n@r3\nAC\n+\nII\n'));
  const r = await run(['predict', input, ...ARGS, '-o', join(dir, 'out')]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /reads\.fq\.gz:8: record 'r2': the quality length \(4\) differs from the sequence length \(8\)/);
  assertNoInternalError(r);
  assert.deepEqual(readdirSync(join(dir, 'out')).filter((n) => TABLES.includes(n) || n.endsWith('.fna')), []);
});

test("'-' when stdin is a terminal: refused at once with exit code 2 (never waiting for typed input)", { skip: spawnSync('script', ['--version']).status === 0 ? false : 'needs script(1) for a terminal' }, () => {
  const dir = tempDir();
  const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, '--import', tsxImport, CLI, 'predict', '-', ...ARGS, '-o', join(dir, 'out')].map(quote).join(' ');
  // script(1) runs the command on a pseudo-terminal: its stdin is a TTY.
  const r = spawnSync('script', ['-qec', command, '/dev/null'], { cwd: dir, env: { ...process.env, ...ENV }, encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  assert.equal(r.signal, null, 'no hang');
  assert.equal(r.status, 2, r.stdout);
  assert.match(r.stdout, /the input is stdin \('-'\), but stdin is a terminal/);
  assert.ok(!existsSync(join(dir, 'out')), 'nothing created');
});

test('the recorded command line hides URL passwords (redis://user:pass@host -> user:***@), as an argument or as --flag=URL', () => {
  assert.deepEqual(
    redactCommandLine([
      'predict',
      '--queue',
      'redis://user:s3cret@host:6379/0',
      '--queue=rediss://u:p%40ss@h.example:6380',
      'redis://host:6379',
      'redis://:onlypass@host',
      'reads.fa',
      'http://a:b@c/d?e=f@g',
      'not a url:x@y',
    ]),
    [
      'predict',
      '--queue',
      'redis://user:***@host:6379/0',
      '--queue=rediss://u:***@h.example:6380',
      'redis://host:6379',
      'redis://:***@host',
      'reads.fa',
      'http://a:***@c/d?e=f@g',
      'not a url:x@y',
    ],
  );
});
