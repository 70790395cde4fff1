// workflows/slurm/virnucpro-array.sh: valid bash, and its three job bodies (plan; the array tasks, told apart
// only by SLURM_ARRAY_TASK_ID; gather), run here as Slurm would run them, give the outputs of one local run.
// Slurm itself (sbatch and the dependencies) is not available here: the submit part is checked for syntax only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, tempDir } from '../helpers.js';
import { INPUT, localRun, readResults, runFlags, runProgram, VIRNUCPRO_COMMAND } from './run.js';

const SCRIPT = join(repoRoot, 'workflows', 'slurm', 'virnucpro-array.sh');

test('the Slurm script is valid bash', () => {
  const r = spawnSync('bash', ['-n', SCRIPT], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test("the Slurm script's plan, array-task and gather bodies give the outputs of one local run, byte for byte", async () => {
  const base = tempDir('virnucpro-slurm-');
  const cache = join(base, 'cache');
  const want = await localRun(cache, join(base, 'local'));
  const out = join(base, 'reads_virnucpro');
  const step = (name: string, extra: Record<string, string> = {}) =>
    runProgram('bash', [SCRIPT, '3', INPUT, out, ...runFlags(cache), '-q'], {
      env: { VIRNUCPRO: VIRNUCPRO_COMMAND.join(' '), VIRNUCPRO_STEP: name, ...extra },
      timeoutMs: 180_000,
    });
  const plan = await step('plan');
  assert.equal(plan.code, 0, plan.stderr);
  const tasks = await Promise.all(['1', '2', '3'].map((id) => step('units', { SLURM_ARRAY_TASK_ID: id })));
  for (const t of tasks) assert.equal(t.code, 0, t.stderr);
  assert.ok(!existsSync(join(out, 'summary.tsv')), 'the array tasks write no outputs');
  const gather = await step('gather');
  assert.equal(gather.code, 0, gather.stderr);
  assert.deepEqual(readResults(out), want);
});

test('the Slurm script refuses a bad N, a missing array task id and an unknown step (exit code 2)', async () => {
  const run = (args: string[], env: Record<string, string> = {}) => runProgram('bash', [SCRIPT, ...args], { env: { VIRNUCPRO: 'false', ...env } });
  for (const n of ['0', 'x', '-2', '1.5']) {
    const r = await run([n, 'in.fa', 'out']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`N \\(the number of slice jobs\\) must be a whole number from 1, got '${n.replace('.', '\\.')}'`));
  }
  const tooFew = await run(['3', 'in.fa']);
  assert.equal(tooFew.code, 2);
  assert.match(tooFew.stderr, /usage: virnucpro-array\.sh N INPUT OUTDIR/);
  const noTask = await run(['3', 'in.fa', 'out'], { VIRNUCPRO_STEP: 'units', SLURM_ARRAY_TASK_ID: '' });
  assert.equal(noTask.code, 2);
  assert.match(noTask.stderr, /the units step runs as a Slurm array task \(sbatch --array=1-3\): SLURM_ARRAY_TASK_ID is not set/);
  const unknown = await run(['3', 'in.fa', 'out'], { VIRNUCPRO_STEP: 'scatter' });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown VIRNUCPRO_STEP 'scatter'/);
});
