import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../cli-harness.js';
import { repoRoot, tempDir } from '../helpers.js';

// report.html is one of predict's outputs: listed in run.json, and removed by --force like the others
// (a directory holding it is not refused as holding someone else's file).
test('predict writes report.html with its outputs, and --force starts over in a directory that holds one', async () => {
  const dir = tempDir('virnucpro-predict-report-');
  const out = join(dir, 'out');
  const args = ['predict', join(repoRoot, 'examples/example.fa'), '-e', '500', '--demo', '-o', out];
  const env = { VIRNUCPRO_CACHE: join(dir, 'cache') };
  const first = await runCli(args, { env, timeoutMs: 120_000 });
  assert.equal(first.code, 0, first.stderr);
  assert.ok(existsSync(join(out, 'report.html')));
  assert.ok(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).outputs.includes('report.html'));
  const again = await runCli([...args, '--force'], { env, timeoutMs: 120_000 });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /report: .*report\.html/);
});

test('--dashboard-host without --dashboard-port, and a port out of range, are usage errors (exit code 2)', async () => {
  const base = ['predict', join(repoRoot, 'examples/example.fa'), '-e', '500', '--demo', '-o', join(tempDir('virnucpro-dash-flags-'), 'o')];
  const host = await runCli([...base, '--dashboard-host', '0.0.0.0']);
  assert.equal(host.code, 2);
  assert.match(host.stderr, /--dashboard-host needs --dashboard-port/);
  const port = await runCli([...base, '--dashboard-port', '70000']);
  assert.equal(port.code, 2);
  assert.match(port.stderr, /--dashboard-port must be a port number from 0 to 65535, got '70000'/);
});
