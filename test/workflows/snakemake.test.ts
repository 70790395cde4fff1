// workflows/snakemake/Snakefile run by Debian's snakemake (7.21) with the local executor and 3 jobs at once:
// plan -> 3 slice jobs -> gather gives the outputs of one local `predict` run, byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, tempDir } from '../helpers.js';
import { INPUT, localRun, readResults, runFlags, runProgram, SHARDS, VIRNUCPRO_COMMAND } from './run.js';

const SNAKEFILE = join(repoRoot, 'workflows', 'snakemake', 'Snakefile');
const version = spawnSync('snakemake', ['--version'], { encoding: 'utf8' });
const missing = version.error || version.status !== 0 ? 'snakemake is not installed (Debian: apt-get install snakemake; .ci/run installs it)' : false;

test('the Snakemake workflow (3 slice jobs at once) writes the outputs of one local run, byte for byte', { skip: missing }, async () => {
  const base = tempDir('virnucpro-snakemake-');
  const cache = join(base, 'cache');
  const want = await localRun(cache, join(base, 'local'));
  const out = join(base, 'run', 'reads_virnucpro');
  // JSON is YAML: the test's configuration replaces every default of config.yaml.
  const config = join(base, 'config.json');
  const quote = (w: string): string => `'${w.replace(/'/g, `'\\''`)}'`;
  writeFileSync(
    config,
    JSON.stringify({ virnucpro: VIRNUCPRO_COMMAND.map(quote).join(' '), input: INPUT, outdir: out, slices: 3, args: runFlags(cache).map(quote).join(' '), jobdir: '' }),
  );
  const r = await runProgram('snakemake', ['-s', SNAKEFILE, '--configfile', config, '-j', '3', '-d', join(base, 'run'), '--quiet'], { cwd: base });
  const logs = join(base, 'run', 'reads_virnucpro.jobs', 'logs');
  const logText = existsSync(logs) ? readdirSync(logs).map((n) => `--- ${n}\n${readFileSync(join(logs, n), 'utf8')}`).join('\n') : '';
  assert.equal(r.code, 0, `snakemake ${version.stdout.trim()}:\n${r.stderr}\n${logText}`);

  assert.deepEqual(readResults(out), want);
  // The work was done by the three slice jobs, each its own share; the gather only wrote the outputs.
  let computed = 0;
  for (const i of [1, 2, 3]) {
    const m = /slice \d\/3 done: (\d+) shard\(s\) computed/.exec(readFileSync(join(logs, `units-${i}-of-3.log`), 'utf8'));
    assert.ok(m && Number(m[1]) > 0, `slice ${i}/3 computed shards`);
    computed += Number(m[1]);
  }
  assert.equal(computed, SHARDS);
  assert.match(readFileSync(join(logs, 'gather.log'), 'utf8'), new RegExp(`${SHARDS} shard\\(s\\) already done, 0 to compute`));
  // Snakemake's bookkeeping stays out of the output directory: it holds only names a local run writes.
  const local = new Set(readdirSync(join(base, 'local')));
  assert.deepEqual(readdirSync(out).filter((n) => !local.has(n)), []);
});
