import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, tempDir, tsxImport } from '../helpers.js';

// The README's first command must stay true: it runs `predict` with the demo models on the bundled example.
test("the README's quick-start predict command runs on a fresh checkout and says its scores mean nothing", () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const firstBlock = /```bash\n([\s\S]*?)```/.exec(readme)![1].trim().split('\n');
  assert.equal(firstBlock.length, 2, 'two set-up commands');
  const [install, quick] = firstBlock[0].split(' && ');
  assert.equal(install, 'npm ci');
  assert.equal(firstBlock[1], 'npm test');
  const args = quick.split(/\s+/);
  assert.deepEqual(args.slice(0, 2), ['npx', 'virnucpro']);

  const cwd = tempDir();
  const input = join(repoRoot, args[3]);
  const cliArgs = [args[2], input, ...args.slice(4)];
  const run = spawnSync(process.execPath, ['--import', tsxImport, join(repoRoot, 'src/cli/main.ts'), ...cliArgs], {
    cwd,
    env: { ...process.env, VIRNUCPRO_CACHE: join(cwd, 'cache') },
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /DEMO MODELS.*mean NOTHING/);
  const out = join(cwd, 'example_virnucpro');
  // The tables stay plain (their header first, for pandas); the warning is in run.json and its own file.
  for (const f of ['prediction_results.txt', 'prediction_results_highestscore.csv', 'summary.tsv']) {
    assert.doesNotMatch(readFileSync(join(out, f), 'utf8').split('\n')[0], /^#/, `${f} starts with its header`);
  }
  const runJson = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
  assert.equal(runJson.demo_models, true);
  assert.match(runJson.warnings[0], /^WARNING: DEMO MODELS/);
  assert.ok(runJson.counts.rows > 0);
  assert.match(readFileSync(join(out, 'DEMO_MODELS_WARNING.txt'), 'utf8'), /mean NOTHING/);
});
