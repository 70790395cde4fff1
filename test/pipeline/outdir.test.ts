import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { tempDir } from '../helpers.js';
import { forceRefusal, LOCK_FILE, MARKER_FILE, OutputDirectory, type OutDirRequest } from '../../src/pipeline/outdir.js';
import { ExitCode, VirnucproError, userErrorFromSystemError } from '../../src/util/errors.js';
import { acquireLock } from '../../src/util/lock.js';

/** A directory with an input file of its own, outside every output directory the tests use. */
function setup(): { root: string; input: string; request: (o: Partial<OutDirRequest> & { outDir: string }) => OutDirRequest } {
  const root = tempDir('virnucpro-outdir-');
  const input = join(root, 'in', 'reads.fa');
  mkdirSync(dirname(input));
  writeFileSync(input, '>r1\nACGT\n');
  return { root, input, request: (o) => ({ input, expectedLength: 500, ...o }) };
}

function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

async function rejects(p: Promise<unknown> | (() => unknown), exitCode: number, message: RegExp): Promise<VirnucproError> {
  let error: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof VirnucproError, `expected a VirnucproError, got ${String(error)}`);
  assert.equal(error.exitCode, exitCode, error.message);
  assert.match(error.message, message);
  return error;
}

/** A finished run of ours (marker, outputs, work folder) plus a temporary of a killed write. */
function previousRun(dir: string, extra: Record<string, string> = {}): void {
  mkdirSync(join(dir, 'work'), { recursive: true });
  mkdirSync(join(dir, 'embeddings'));
  const files: Record<string, string> = {
    [MARKER_FILE]: JSON.stringify({ tool: 'virnucpro', intermediateFiles: ['reads_chunked500.fa'] }),
    'work/plan.json': '{}',
    'embeddings/shard-000001.bin': 'x',
    'prediction_results.txt': 'old',
    'prediction_results_highestscore.csv': 'old',
    'summary.tsv': 'old',
    'run.json': '{}',
    'gpu_metrics.log': 'old',
    'DEMO_MODELS_WARNING.txt': 'old',
    'reads_chunked500.fa': 'old',
    '.summary.tsv.123.k3j4h5.tmp': 'half',
    ...extra,
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}

test('--force refuses /, the current and home directories and any directory holding the input', async () => {
  const { root, input } = setup();
  assert.equal(await forceRefusal('/', input), 'it is the root of the filesystem');
  assert.equal(await forceRefusal(process.cwd(), input), 'it is the current directory');
  assert.equal(await forceRefusal(dirname(process.cwd()), input), 'it contains the current directory');
  assert.equal(await forceRefusal(dirname(input), input), `it contains the input file ${input}`);
  assert.equal(await forceRefusal(root, input), `it contains the input file ${input}`);
  const home = process.env.HOME;
  process.env.HOME = join(root, 'home');
  try {
    assert.equal(await forceRefusal(join(root, 'home'), input), 'it is your home directory');
  } finally {
    process.env.HOME = home;
  }
  assert.equal(await forceRefusal(join(root, 'out'), input), null);
  assert.equal(await forceRefusal(join(root, 'in', 'out'), input), null, 'a sibling of the input is fine');
});

test('an empty -o is a usage error with or without --force', async () => {
  const { request } = setup();
  for (const force of [false, true]) {
    await rejects(() => new OutputDirectory(request({ outDir: '', force })), ExitCode.badInput, /output directory \(-o\) is an empty string/);
    await rejects(() => new OutputDirectory(request({ outDir: '  ', force })), ExitCode.badInput, /empty string/);
  }
});

test('--force removes only what virnucpro wrote, after the claim, and rewrites the marker', async () => {
  const { root, request } = setup();
  const dir = join(root, 'out');
  previousRun(dir);
  const out = new OutputDirectory(request({ outDir: dir, force: true }));
  await out.check();
  assert.ok(existsSync(join(dir, 'summary.tsv')), 'check() removes nothing');
  const lines: string[] = [];
  await out.claim((l) => lines.push(l));
  assert.deepEqual(listing(dir), [MARKER_FILE, LOCK_FILE]);
  assert.match(lines.join('\n'), /--force: removing virnucpro's previous outputs in .*\.summary\.tsv\.123\.k3j4h5\.tmp.*reads_chunked500\.fa.*work/);
  out.release();
  assert.deepEqual(listing(dir), [MARKER_FILE], 'the lock is gone once released');
  assert.equal(JSON.parse(readFileSync(join(dir, MARKER_FILE), 'utf8')).tool, 'virnucpro');
});

test("--force refuses a directory with anyone else's files, naming a few and counting the rest", async () => {
  const { root, request } = setup();
  const dir = join(root, 'out');
  const foreign = Object.fromEntries(['a.txt', 'b.txt', 'c.txt', 'd.txt', 'e.txt', 'f.txt', 'g.txt'].map((n) => [n, 'mine']));
  // A temporary-looking name of a file that is not ours is not ours either.
  previousRun(dir, { ...foreign, '.notes.txt.1.ab.tmp': 'mine' });
  const before = listing(dir);
  const out = new OutputDirectory(request({ outDir: dir, force: true }));
  const e = await rejects(out.check(), ExitCode.badInput, /--force removes only the files virnucpro wrote, but .* also holds '\.notes\.txt\.1\.ab\.tmp', 'a\.txt', 'b\.txt', 'c\.txt', 'd\.txt' and 3 more/);
  assert.match(e.hint ?? '', /choose another directory with -o/);
  // claim() looks again under the lock: a file that appeared after check() is protected too.
  await rejects(out.claim(() => undefined), ExitCode.badInput, /also holds/);
  out.release();
  assert.deepEqual(listing(dir), before);

  // Without a marker nothing is ours, whatever its name.
  const bare = join(root, 'bare');
  mkdirSync(join(bare, 'work'), { recursive: true });
  writeFileSync(join(bare, 'summary.tsv'), 'mine');
  await rejects(new OutputDirectory(request({ outDir: bare, force: true })).check(), ExitCode.badInput, /also holds 'summary\.tsv', 'work'/);
  assert.deepEqual(listing(bare), ['summary.tsv', 'work']);
});

test('--resume refuses a directory without our marker; an empty one or a run that died before planning is fine', async () => {
  const { root, request } = setup();
  const theirs = join(root, 'theirs');
  mkdirSync(theirs);
  writeFileSync(join(theirs, 'summary.tsv'), 'mine');
  await rejects(new OutputDirectory(request({ outDir: theirs, resume: true })).check(), ExitCode.badInput, /cannot resume in .*theirs: it holds no virnucpro run.*'summary\.tsv'/);
  assert.equal(readFileSync(join(theirs, 'summary.tsv'), 'utf8'), 'mine');

  for (const [name, make] of [
    ['empty', (d: string) => mkdirSync(d)],
    ['died-before-plan', (d: string) => {
      mkdirSync(join(d, 'work'), { recursive: true });
      writeFileSync(join(d, MARKER_FILE), '{}');
      writeFileSync(join(d, 'work', 'shard-000001.tsv'), 'partial');
    }],
  ] as const) {
    const d = join(root, name);
    make(d);
    for (const flags of [{ resume: true }, {}]) await new OutputDirectory(request({ outDir: d, ...flags })).check();
  }

  // An interrupted run of an older version (work/plan.json, no marker) can still be resumed.
  const legacy = join(root, 'legacy');
  mkdirSync(join(legacy, 'work'), { recursive: true });
  writeFileSync(join(legacy, 'work', 'plan.json'), JSON.stringify({ fingerprint: { planFormat: 0 }, shards: [] }));
  await new OutputDirectory(request({ outDir: legacy, resume: true })).check();
  await rejects(new OutputDirectory(request({ outDir: legacy })).check(), ExitCode.badInput, /already exists/);
});

test('-o below a regular file and -o naming a file are refused before anything is created', async () => {
  const { root, request } = setup();
  const file = join(root, 'file.txt');
  writeFileSync(file, 'mine');
  await rejects(new OutputDirectory(request({ outDir: join(file, 'out', 'deeper') })).check(), ExitCode.badInput, /file\.txt is not a directory, so .* cannot be created/);
  await rejects(new OutputDirectory(request({ outDir: file, force: true })).check(), ExitCode.badInput, /file\.txt is not a directory$/);
  assert.equal(readFileSync(file, 'utf8'), 'mine');
});

test('one run per directory: the second is refused naming the holder; a stale lock is taken over with a log line', async () => {
  const { root, request } = setup();
  const dir = join(root, 'out');
  const first = new OutputDirectory(request({ outDir: dir }));
  await first.check();
  await first.claim(() => undefined);
  const lock = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'));
  assert.deepEqual([lock.pid, lock.host], [process.pid, hostname()]);
  const msg = new RegExp(`is in use by another virnucpro run \\(pid ${process.pid} on ${hostname()}`);
  await rejects(new OutputDirectory(request({ outDir: dir, resume: true })).check(), ExitCode.resource, msg);
  await rejects(new OutputDirectory(request({ outDir: dir, resume: true })).claim(() => undefined), ExitCode.resource, msg);
  first.release();

  // A pid above the kernel's pid_max cannot be running: the lock is stale.
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: 2 ** 30, host: hostname(), since: 'earlier' }));
  const lines: string[] = [];
  const second = new OutputDirectory(request({ outDir: dir, resume: true }));
  await second.check();
  await second.claim((l) => lines.push(l));
  assert.match(lines.join('\n'), /taking over the lock of an earlier run .* that is no longer running \(pid 1073741824 on /);
  assert.equal(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
  second.release();
  assert.ok(!existsSync(join(dir, LOCK_FILE)));

  // Another host's lock cannot be checked from here: held.
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: 1, host: 'elsewhere', since: 'earlier' }));
  await rejects(new OutputDirectory(request({ outDir: dir, resume: true })).check(), ExitCode.resource, /in use by another virnucpro run \(pid 1 on elsewhere/);
  const attempt = await acquireLock(join(dir, LOCK_FILE));
  assert.equal(attempt.acquired, false);
});

test('operating-system errors become user errors: ENOSPC is exit 4 with what to free, ENOTDIR and ENOENT exit 2', async () => {
  // A real ENOSPC: /dev/full refuses every write. Node names no path for a failed write (only for a failed open),
  // so the caller says where its writes go.
  let enospc: unknown;
  try {
    writeFileSync('/dev/full', 'x');
  } catch (e) {
    enospc = e;
  }
  assert.equal((enospc as NodeJS.ErrnoException).code, 'ENOSPC');
  const full = userErrorFromSystemError(enospc, { dir: '/data/out' });
  assert.ok(full);
  assert.equal(full.exitCode, ExitCode.resource);
  assert.equal(full.message, 'disk full writing a file in /data/out');
  assert.match(full.hint ?? '', /free space on that filesystem .* or use -o to write elsewhere/);
  assert.equal(userErrorFromSystemError(enospc)?.message, 'disk full writing a file');
  const quota = Object.assign(new Error("EDQUOT: disk quota exceeded, open '/data/out/x'"), { code: 'EDQUOT', errno: -122, syscall: 'open', path: '/data/out/x' });
  assert.equal(userErrorFromSystemError(quota)?.exitCode, ExitCode.resource);
  assert.equal(userErrorFromSystemError(quota)?.message, 'disk quota exceeded writing /data/out/x');

  const { root } = setup();
  writeFileSync(join(root, 'file'), 'x');
  let notDir: unknown;
  await mkdir(join(root, 'file', 'sub'), { recursive: true }).catch((e) => (notDir = e));
  const e2 = userErrorFromSystemError(notDir);
  assert.equal(e2?.exitCode, ExitCode.badInput);
  assert.match(e2?.message ?? '', /file\/sub: a part of this path is not a directory/);

  let missing: unknown;
  try {
    writeFileSync(join(root, 'nodir', 'log.txt'), '');
  } catch (e) {
    missing = e;
  }
  const e3 = userErrorFromSystemError(missing, { what: '--log-file' });
  assert.equal(e3?.exitCode, ExitCode.badInput);
  assert.match(e3?.message ?? '', /^--log-file .*nodir\/log\.txt: no such file or directory$/);
  assert.match(e3?.hint ?? '', /nodir\) must exist/);

  // Bugs stay bugs.
  assert.equal(userErrorFromSystemError(new TypeError('x is undefined')), null);
  assert.equal(userErrorFromSystemError(Object.assign(new Error('bad arg'), { code: 'ERR_INVALID_ARG_TYPE' })), null);
});
