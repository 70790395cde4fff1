// The output-directory contract of `virnucpro predict`, run as a user runs it: nothing that is not ours is ever
// removed or overwritten, and every failure on an output path is a clear message with exit 2 or 4, never a stack trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { tempDir } from '../helpers.js';
import { assertNoInternalError, runCli as cli, treeSnapshot as snapshot, type CliRun as Run } from '../cli-harness.js';

/** Everything of this file lives under one temporary directory. */
const base = tempDir('virnucpro-outdir-cli-');
const DEMO = ['--demo', '--cache-dir', join(base, 'cache')];

const READS = '>r1 first\nATGAAACCCGGGTTTAAACCCGGGTTTAAAATGAAACCCGGGTTTAAACCCGGG\n>r2\nATGGCGGCGGCGTAGATGGCGGCGGCGGCGATGAAATTTCCCGGGAAATTTCCC\n';

/** A work area: `in/reads.fa` (the input) and a user file next to it. */
function workArea(): { root: string; input: string } {
  const root = mkdtempSync(join(base, 'case-'));
  mkdirSync(join(root, 'in'));
  const input = join(root, 'in', 'reads.fa');
  writeFileSync(input, READS);
  writeFileSync(join(root, 'in', 'notes.txt'), 'my notes\n');
  return { root, input };
}

let finished: string | null = null;
/** A finished run, copied for each test that needs previous results. */
async function previousRun(into: string): Promise<void> {
  if (!finished) {
    const { input } = workArea();
    finished = join(base, 'finished');
    const r = await cli(['predict', input, '-e', '500', ...DEMO, '-o', finished, '-q', '--save-embeddings']);
    assert.equal(r.code, 0, r.stderr);
  }
  cpSync(finished, into, { recursive: true });
}

test('-o . --force refuses the current directory and deletes nothing', async () => {
  const { root, input } = workArea();
  const cwd = join(root, 'in');
  const before = snapshot(root);
  const r = await cli(['predict', input, '-e', '500', ...DEMO, '-o', '.', '--force'], { cwd });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--force refuses to clear .*\/in: it is the current directory/);
  assertNoInternalError(r);
  assert.deepEqual(snapshot(root), before);
});

test('-o "" (an unset variable) is a usage error, with or without --force, and touches nothing', async () => {
  const { root, input } = workArea();
  const cwd = join(root, 'in');
  const before = snapshot(root);
  for (const extra of [['--force'], [], ['--resume']]) {
    const r = await cli(['predict', input, '-e', '500', ...DEMO, '-o', '', ...extra], { cwd });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /the output directory \(-o\) is an empty string/);
    assertNoInternalError(r);
  }
  assert.deepEqual(snapshot(root), before);
});

test('--force on a directory that holds the input, or on $HOME, is refused', async () => {
  const { root, input } = workArea();
  const home = join(root, 'home');
  mkdirSync(home);
  writeFileSync(join(home, '.bashrc'), 'mine\n');
  const before = snapshot(root);
  for (const [dir, why] of [
    [join(root, 'in'), /it contains the input file/],
    [root, /it contains the input file/],
    [home, /it is your home directory/],
  ] as const) {
    const r = await cli(['predict', input, '-e', '500', ...DEMO, '-o', dir, '--force'], { env: { HOME: home } });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`--force refuses to clear ${dir}: ${why.source}`));
    assertNoInternalError(r);
  }
  assert.deepEqual(snapshot(root), before);
});

test('a wrong model path with --force leaves the previous results alone', async () => {
  const { root, input } = workArea();
  const out = join(root, 'out');
  await previousRun(out);
  const before = snapshot(root);
  const r = await cli(['predict', input, '-e', '500', '--esm', join(root, 'nope.pt'), '--dnabert', join(root, 'nope'), '--classifier', join(root, 'nope.pth'), '-o', out, '--force']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /nope/);
  assertNoInternalError(r);
  assert.deepEqual(snapshot(root), before);
});

test("--force refuses a directory holding another tool's files (naming them); on our own it removes only what we wrote", async () => {
  const { root, input } = workArea();
  const out = join(root, 'out');
  await previousRun(out);
  writeFileSync(join(out, 'analysis.R'), 'mine\n');
  writeFileSync(join(out, 'README'), 'mine\n');
  const before = snapshot(root);
  const r = await cli(['predict', input, '-e', '500', ...DEMO, '-o', out, '--force']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--force removes only the files virnucpro wrote, but .*\/out also holds 'README', 'analysis\.R'/);
  assertNoInternalError(r);
  assert.deepEqual(snapshot(root), before);

  // Without anyone else's files, --force replaces our previous outputs (the old embeddings/ included).
  const again = { ...before };
  for (const k of Object.keys(again)) if (k.startsWith('out/')) delete again[k];
  const clean = join(root, 'clean');
  await previousRun(clean);
  assert.ok(existsSync(join(clean, 'embeddings')));
  const ok = await cli(['predict', input, '-e', '500', ...DEMO, '-o', clean, '--force']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /--force: removing virnucpro's previous outputs in .*\/clean: .*embeddings/);
  assert.ok(!existsSync(join(clean, 'embeddings')));
  assert.ok(existsSync(join(clean, 'summary.tsv')) && existsSync(join(clean, '.virnucpro')));
  assert.ok(!existsSync(join(clean, '.virnucpro.lock')), 'the lock is removed at exit');
  const after = snapshot(root);
  for (const [k, v] of Object.entries(before)) assert.equal(after[k], v, `${k} unchanged`);
});

test("--resume into a directory without a run of ours is refused and keeps the user's summary.tsv", async () => {
  const { root, input } = workArea();
  const theirs = join(root, 'theirs');
  mkdirSync(theirs);
  writeFileSync(join(theirs, 'summary.tsv'), 'sample\tcount\nA\t3\n');
  const before = snapshot(root);
  const r = await cli(['predict', input, '-e', '500', ...DEMO, '-o', theirs, '--resume']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /cannot resume in .*\/theirs: it holds no virnucpro run \(no \.virnucpro file\) but other files: 'summary\.tsv'/);
  assertNoInternalError(r);
  assert.deepEqual(snapshot(root), before);
});

test('-o below a regular file and --log-file in a missing directory are exit 2 naming the path, before any work', async () => {
  const { root, input } = workArea();
  const before = snapshot(root);
  const below = await cli(['predict', input, '-e', '500', ...DEMO, '-o', join(root, 'in', 'notes.txt', 'out')]);
  assert.equal(below.code, 2, below.stderr);
  assert.match(below.stderr, /notes\.txt is not a directory, so .*notes\.txt\/out cannot be created/);
  assertNoInternalError(below);

  const log = await cli(['predict', input, '-e', '500', ...DEMO, '-o', join(root, 'out'), '--log-file', join(root, 'logs', 'run.log')]);
  assert.equal(log.code, 2, log.stderr);
  assert.match(log.stderr, /--log-file .*\/logs\/run\.log: no such file or directory/);
  assert.match(log.stderr, /logs\) must exist/);
  assertNoInternalError(log);
  assert.deepEqual(snapshot(root), before, 'no output directory was created');
});

test('an operating-system error in any command is a user error, never "internal error" (translate -o below a file)', async () => {
  const { root, input } = workArea();
  const before = snapshot(root);
  const r = await cli(['translate', input, '-e', '500', '-o', join(root, 'in', 'notes.txt', 'out')]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /virnucpro: error: .*notes\.txt\/out: a part of this path is not a directory/);
  assertNoInternalError(r);
  assert.deepEqual(snapshot(root), before);
});

test('two runs into one directory: the second is refused naming the first; the lock goes at SIGTERM, a stale one is taken over', async () => {
  const { root, input } = workArea();
  const out = join(root, 'out');
  const args = ['predict', input, '-e', '500', ...DEMO, '-o', out, '--shard-tokens', '100', '-q'];
  let firstPid = 0;
  let second: Run | null = null;
  // The first run waits at the plan hold point, holding the directory; the second starts then, and then the first is stopped.
  const first = await cli(args, {
    env: { VIRNUCPRO_TEST_HOLD: 'plan' },
    onStderr: (text, child) => {
      if (firstPid !== 0 || !text.includes('VIRNUCPRO_TEST_HOLD plan')) return;
      firstPid = child.pid!;
      void cli([...args, '--resume']).then((r) => {
        second = r;
        child.kill('SIGTERM');
      });
    },
  });
  assert.equal(first.signal, 'SIGTERM', first.stderr);
  const refused = second as Run | null;
  assert.ok(refused);
  assert.equal(refused.code, 4, refused.stderr);
  assert.match(refused.stderr, new RegExp(`${out} is in use by another virnucpro run \\(pid ${firstPid} on ${hostname()}, since `));
  assert.match(refused.stderr, /hint: wait for it to finish or choose another -o/);
  assertNoInternalError(refused);
  assert.ok(!existsSync(join(out, '.virnucpro.lock')), 'SIGTERM removed the lock');

  // SIGKILL leaves the lock behind; the next run sees its owner is gone and takes over.
  const killed = await cli(args, { env: { VIRNUCPRO_TEST_HOLD: 'plan' }, onStderr: (text, child) => text.includes('VIRNUCPRO_TEST_HOLD plan') && child.kill('SIGKILL') });
  assert.equal(killed.signal, 'SIGKILL');
  assert.ok(existsSync(join(out, '.virnucpro.lock')));
  const resumed = await cli([...args.filter((a) => a !== '-q'), '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /taking over the lock of an earlier run in .*\/out that is no longer running \(pid \d+ on /);
  assert.ok(!existsSync(join(out, '.virnucpro.lock')));
  assert.equal(readFileSync(join(root, 'in', 'notes.txt'), 'utf8'), 'my notes\n');
  assert.equal(readFileSync(input, 'utf8'), READS);
});

test('SIGINT while computing exits 130, removes the lock and leaves a resumable run', async () => {
  const { root, input } = workArea();
  const out = join(root, 'out');
  const args = ['predict', input, '-e', '500', ...DEMO, '-o', out, '--shard-tokens', '100'];
  // The worker is slowed down so that the compute stage, which starts with "scheduling N shards", is still running.
  let lockedWhenSignalled: boolean | null = null;
  const r = await cli(args, {
    env: { VIRNUCPRO_DEVICE_SLOWDOWN: '0=2000' },
    onStderr: (text, child) => {
      if (lockedWhenSignalled !== null || !/scheduling \d+ shards/.test(text)) return;
      lockedWhenSignalled = existsSync(join(out, '.virnucpro.lock'));
      child.kill('SIGINT');
    },
  });
  assert.equal(lockedWhenSignalled, true, 'the run held the lock');
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /--resume/);
  assertNoInternalError(r);
  assert.ok(!existsSync(join(out, '.virnucpro.lock')));
  const resumed = await cli([...args, '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.ok(existsSync(join(out, 'summary.tsv')));
});

// ---- real read-only and full filesystems (root can mount; CI runs as root)

function sh(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

const canMount = ((): boolean => {
  const probe = mkdtempSync(join(base, 'mount-probe-'));
  const ok = sh('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe]);
  if (ok) sh('umount', [probe]);
  return ok;
})();
const needsMount = canMount ? {} : { skip: 'mounting needs root (CI runs as root); the errno mapping is unit-tested in test/pipeline/outdir.test.ts' };

async function withMount<T>(dir: string, mountArgs: string[][], fn: () => Promise<T>): Promise<T> {
  for (const a of mountArgs) assert.ok(sh('mount', a), `mount ${a.join(' ')}`);
  try {
    return await fn();
  } finally {
    sh('umount', ['-l', dir]);
  }
}

test('a read-only output filesystem is exit 2 naming the path, and --force there removes nothing', needsMount, async () => {
  const { root, input } = workArea();
  const ro = join(root, 'ro');
  mkdirSync(ro);
  await previousRun(join(ro, 'out'));
  const before = snapshot(root);
  await withMount(ro, [['--bind', ro, ro], ['-o', 'remount,ro,bind', ro]], async () => {
    const fresh = await cli(['predict', input, '-e', '500', ...DEMO, '-o', join(ro, 'new')]);
    assert.equal(fresh.code, 2, fresh.stderr);
    assert.match(fresh.stderr, /cannot use the output directory .*\/ro\/new: .*\/ro is on a read-only filesystem/);
    assertNoInternalError(fresh);

    const force = await cli(['predict', input, '-e', '500', ...DEMO, '-o', join(ro, 'out'), '--force']);
    assert.equal(force.code, 2, force.stderr);
    assert.match(force.stderr, /\/ro\/out is on a read-only filesystem/);
    assertNoInternalError(force);
    assert.deepEqual(snapshot(root), before);
  });
});

test('a full disk is exit 4 saying what to free; after freeing space, --resume finishes the run', needsMount, async () => {
  const { root, input } = workArea();
  const disk = join(root, 'disk');
  mkdirSync(disk);
  await withMount(disk, [['-t', 'tmpfs', '-o', 'size=32k', 'tmpfs', disk]], async () => {
    // Completely full: refused when the directory is claimed, nothing left behind, the user's file intact.
    writeFileSync(join(disk, 'mine.txt'), 'mine\n');
    spawnSync('dd', ['if=/dev/zero', `of=${join(disk, 'filler')}`, 'bs=4k'], { stdio: 'ignore' });
    const before = snapshot(root);
    const full = await cli(['predict', input, '-e', '500', ...DEMO, '-o', join(disk, 'out')]);
    assert.equal(full.code, 4, full.stderr);
    assert.match(full.stderr, /disk full writing .*\/disk\/out/);
    assert.match(full.stderr, /hint: free space on that filesystem .* or use -o to write elsewhere/);
    assertNoInternalError(full);
    assert.deepEqual(snapshot(root), before);

    // Room for the start of the run only: it fails part-way with the same message.
    sh('rm', [join(disk, 'filler')]);
    const args = ['predict', input, '-e', '500', ...DEMO, '-o', join(disk, 'out'), '--shard-tokens', '100'];
    const partway = await cli(args);
    assert.equal(partway.code, 4, partway.stderr);
    assert.match(partway.stderr, /disk full writing .*\/disk\/out/);
    assertNoInternalError(partway);
    assert.equal(readFileSync(join(disk, 'mine.txt'), 'utf8'), 'mine\n');

    assert.ok(sh('mount', ['-o', 'remount,size=4m', disk]));
    const resumed = await cli([...args, '--resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.ok(existsSync(join(disk, 'out', 'summary.tsv')));
    assert.equal(readFileSync(join(disk, 'mine.txt'), 'utf8'), 'mine\n');
  });
});
