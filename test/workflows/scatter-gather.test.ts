// Scatter/gather from the command line (src/pipeline/slices.ts): `predict --plan-only`, N slice jobs
// `predict --resume --units I/N` running at once on one shared output directory, then `predict --resume`,
// give the outputs of one local run byte for byte; the slice jobs' locks let them work together but never
// alongside a run that plans or writes the outputs; bad slice specs and a missing plan are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers.js';
import { assertNoInternalError, runCli, type CliOptions, type CliRun } from '../cli-harness.js';
import { INPUT, localRun, readResults, runFlags, SHARDS } from './run.js';

const base = tempDir('virnucpro-scatter-');
const cache = join(base, 'cache');
const FLAGS = runFlags(cache);
let expected: Record<string, Buffer> | null = null;

/** The outputs of one plain local run (computed once). */
async function localOutputs(): Promise<Record<string, Buffer>> {
  expected ??= await localRun(cache, join(base, 'local'));
  return expected;
}

function predict(out: string, extra: string[], env?: Record<string, string>, onStderr?: CliOptions['onStderr']): Promise<CliRun> {
  return runCli(['predict', INPUT, ...FLAGS, '-o', out, ...extra], { env, onStderr, timeoutMs: 180_000 });
}

const results = (out: string): string[] => readdirSync(join(out, 'work')).filter((n) => n.endsWith('.result')).sort();
const OUTPUT_NAMES = ['prediction_results.txt', 'prediction_results_highestscore.csv', 'summary.tsv', 'run.json'];

/** A planned run in a fresh directory. */
async function planned(name: string): Promise<string> {
  const out = join(base, name);
  const r = await predict(out, ['--plan-only']);
  assert.equal(r.code, 0, r.stderr);
  return out;
}

test('--plan-only writes the plan and nothing else, and prints the number of units and the next commands', async () => {
  const out = join(base, 'plan-only');
  const r = await predict(out, ['--plan-only']);
  assert.equal(r.code, 0, r.stderr);
  assertNoInternalError(r);
  assert.ok(existsSync(join(out, '.virnucpro')), 'the directory is marked as ours');
  assert.ok(!existsSync(join(out, '.virnucpro.lock')), 'the lock is released');
  const plan = JSON.parse(readFileSync(join(out, 'work', 'plan.json'), 'utf8'));
  assert.equal(plan.shards.length, SHARDS);
  assert.deepEqual(results(out), [], 'nothing computed');
  for (const name of OUTPUT_NAMES) assert.ok(!existsSync(join(out, name)), `${name} not written`);
  assert.match(r.stderr, new RegExp(`--plan-only: ${SHARDS} unit\\(s\\) of work \\(shards\\) planned in ${join(out, 'work', 'plan.json')}; nothing computed`));
  // The next commands are the user's, without --plan-only, plus the flags of each step.
  const commands = r.stderr.split('\n').filter((l) => l.startsWith('  virnucpro predict '));
  assert.equal(commands.length, 2, r.stderr);
  assert.match(commands[0], / --resume --units I\/N$/);
  assert.match(commands[1], / --resume$/);
  for (const c of commands) {
    assert.ok(c.includes(`predict ${INPUT} ${FLAGS.join(' ')} -o ${out} --resume`), c);
    assert.doesNotMatch(c, /--plan-only/);
  }
});

test('3 slice jobs at once on the shared directory, then --resume: the outputs of one local run, byte for byte', async () => {
  const want = await localOutputs();
  const out = await planned('three-slices');
  const slices = await Promise.all([1, 2, 3].map((i) => predict(out, ['--resume', '--units', `${i}/3`])));
  const computed: number[] = [];
  for (const [k, r] of slices.entries()) {
    assert.equal(r.code, 0, `slice ${k + 1}/3: ${r.stderr}`);
    const m = /slice \d\/3 done: (\d+) shard\(s\) computed, 0 already done/.exec(r.stderr);
    assert.ok(m, r.stderr);
    computed.push(Number(m[1]));
  }
  assert.ok(computed.every((n) => n > 0), `every slice had work: ${computed}`);
  assert.equal(computed.reduce((a, b) => a + b, 0), SHARDS, 'each shard computed once');
  assert.equal(results(out).length, SHARDS);
  for (const name of OUTPUT_NAMES) assert.ok(!existsSync(join(out, name)), `slice jobs write no outputs (${name})`);
  assert.deepEqual(readdirSync(out).filter((n) => n.endsWith('.lock')), [], 'every slice lock released');
  // Each slice job's metrics log is its own.
  for (const i of [1, 2, 3]) assert.ok(existsSync(join(out, 'work', `units-${i}-of-3`, 'gpu_metrics.log')));

  const gather = await predict(out, ['--resume']);
  assert.equal(gather.code, 0, gather.stderr);
  assert.match(gather.stderr, new RegExp(`${SHARDS} shard\\(s\\) already done, 0 to compute`));
  assert.deepEqual(readResults(out), want);
  const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
  assert.equal(run.counts.shards_reused, SHARDS);
});

test('a slice job again, or an overlapping slicing, reuses or rewrites identical results; --resume computes what no slice did', async () => {
  const want = await localOutputs();
  const out = await planned('overlap');
  // 1/2 and 1/3 overlap: their common shards are written twice (atomically, with the same bytes).
  const [a, b] = await Promise.all([predict(out, ['--units', '1/2']), predict(out, ['--units', '1/3'])]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const again = await predict(out, ['--units', '1/2']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /slice 1\/2 done: 0 shard\(s\) computed, \d+ already done/);
  // Slice 2/2 never ran: the gather computes it.
  const gather = await predict(out, ['--resume']);
  assert.equal(gather.code, 0, gather.stderr);
  assert.match(gather.stderr, /\d+ shard\(s\) already done, [1-9]\d* to compute/);
  assert.deepEqual(readResults(out), want);
});

test('slice jobs work alongside each other but never alongside a run that plans or writes the outputs', async () => {
  const want = await localOutputs();
  const out = await planned('locks');
  // Slice 1/3 stops after its first result, holding its lock.
  let held!: ReturnType<typeof predict>;
  let child: { kill(signal: NodeJS.Signals): boolean } | undefined;
  const holding = new Promise<void>((resolveHeld) => {
    held = predict(out, ['--units', '1/3'], { VIRNUCPRO_TEST_HOLD: 'compute' }, (text, c) => {
      child = c;
      if (text.includes('VIRNUCPRO_TEST_HOLD compute')) resolveHeld();
    });
  });
  await holding;
  try {
    assert.ok(existsSync(join(out, '.virnucpro.units-1-of-3.lock')));
    // The same slice twice at once: refused, exit code 4.
    const twice = await predict(out, ['--units', '1/3']);
    assert.equal(twice.code, 4, twice.stderr);
    assert.match(twice.stderr, /slice 1\/3 of .* is already being computed by another job \(pid \d+ on /);
    assertNoInternalError(twice);
    // Another slice runs meanwhile.
    const other = await predict(out, ['--units', '2/3']);
    assert.equal(other.code, 0, other.stderr);
    // The gather, and any run without --units, waits for the slice jobs.
    for (const extra of [['--resume'], ['--plan-only', '--resume'], ['--force']]) {
      const r = await predict(out, extra);
      assert.equal(r.code, 4, `${extra}: ${r.stderr}`);
      assert.match(r.stderr, /is in use by 1 slice job\(s\) \(--units 1\/3: pid \d+ on /);
      assert.match(r.stderr, /hint: wait for the slice jobs to finish/);
      assertNoInternalError(r);
    }
  } finally {
    child?.kill('SIGKILL');
  }
  await held;
  // Killed, the job left its lock behind: the gather takes it over (the pid no longer runs) and finishes.
  assert.ok(existsSync(join(out, '.virnucpro.units-1-of-3.lock')));
  const gather = await predict(out, ['--resume']);
  assert.equal(gather.code, 0, gather.stderr);
  assert.match(gather.stderr, /removing the lock of a slice job in .* that is no longer running \(\.virnucpro\.units-1-of-3\.lock: pid \d+/);
  assert.deepEqual(readResults(out), want);
  assert.ok(!existsSync(join(out, '.virnucpro.units-1-of-3.lock')));
});

test('a slice job is refused while the run that writes the outputs holds the directory', async () => {
  const out = await planned('gather-holds');
  let child: { kill(signal: NodeJS.Signals): boolean } | undefined;
  let gather!: ReturnType<typeof predict>;
  await new Promise<void>((resolveHeld) => {
    gather = predict(out, ['--resume'], { VIRNUCPRO_TEST_HOLD: 'outputs' }, (text, c) => {
      child = c;
      if (text.includes('VIRNUCPRO_TEST_HOLD outputs')) resolveHeld();
    });
  });
  try {
    const r = await predict(out, ['--units', '2/3']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /is in use by a virnucpro run that plans it or writes its outputs \(pid \d+ on .*\); slice jobs \(--units\) cannot run meanwhile/);
    assertNoInternalError(r);
    assert.deepEqual(readdirSync(out).filter((n) => n.startsWith('.virnucpro.units-')), [], 'the refused job left no lock');
  } finally {
    child?.kill('SIGKILL');
  }
  await gather;
});

test("a slice job leaves other jobs' temporary files alone; the final --resume removes the leftovers", async () => {
  const out = await planned('temporaries');
  // As another slice job's result half-written, and a write of a killed run.
  const inFlight = [join(out, 'work', '.shard-000009.result.4242.abc123.tmp'), join(out, '.run.json.4242.def456.tmp')];
  for (const p of inFlight) writeFileSync(p, 'partial');
  const slice = await predict(out, ['--units', '1/3']);
  assert.equal(slice.code, 0, slice.stderr);
  for (const p of inFlight) assert.ok(existsSync(p), `${p} left alone`);
  const gather = await predict(out, ['--resume']);
  assert.equal(gather.code, 0, gather.stderr);
  for (const p of inFlight) assert.ok(!existsSync(p), `${p} removed by the gather`);
  assert.deepEqual(readResults(out), await localOutputs());
});

test('bad slice specs are usage errors (exit code 2) that touch nothing', async () => {
  const out = await planned('bad-specs');
  const before = readdirSync(join(out, 'work')).sort();
  for (const spec of ['0/3', '4/3', '1.5/3', '-1/3', '1/0', '3', 'a/b', '', '1/3/5']) {
    const r = await predict(out, ['--units', spec]);
    assert.equal(r.code, 2, `${spec}: ${r.stderr}`);
    assert.ok(r.stderr.includes(`--units must be I/N with whole numbers 1 <= I <= N (slice I of N), got '${spec}'`), `${spec}: ${r.stderr}`);
    assertNoInternalError(r);
  }
  // Flags that contradict a slice job.
  for (const extra of [['--units', '1/3', '--force'], ['--units', '1/3', '--plan-only']]) {
    const r = await predict(out, extra);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /cannot be used with option/);
  }
  assert.deepEqual(readdirSync(join(out, 'work')).sort(), before);
});

test('a slice job without a plan is refused (exit code 2) and creates nothing', async () => {
  const out = join(base, 'no-plan');
  const r = await predict(out, ['--resume', '--units', '2/3']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /cannot compute slice 2\/3 in .*no-plan: it holds no plan \(work\/plan\.json\)/);
  assert.match(r.stderr, /hint: plan the run first: the same command with --plan-only/);
  assertNoInternalError(r);
  assert.ok(!existsSync(out));
});
