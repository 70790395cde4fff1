import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../cli-harness.js';
import { repoRoot, tempDir } from '../helpers.js';

// The timeline of a resumed run shows both sessions: the unit log is appended to, never started over.
test('work/units.jsonl keeps the events of a killed run when it is resumed, and the report draws both sessions', async () => {
  const dir = tempDir('virnucpro-unit-log-');
  const out = join(dir, 'out');
  const args = ['predict', join(repoRoot, 'examples/example.fa'), '-e', '500', '--demo', '--devices', 'cpu:2', '--shard-tokens', '300', '-o', out];
  const env = { VIRNUCPRO_CACHE: join(dir, 'cache') };
  const killed = await runCli(args, {
    env: { ...env, VIRNUCPRO_TEST_HOLD: 'compute' },
    timeoutMs: 120_000,
    onStderr: (stderr, child) => {
      if (stderr.includes('VIRNUCPRO_TEST_HOLD compute')) child.kill('SIGKILL');
    },
  });
  assert.equal(killed.signal, 'SIGKILL', killed.stderr);
  const log = join(out, 'work', 'units.jsonl');
  const first = readFileSync(log, 'utf8');
  assert.ok(first.length > 0, 'the first session logged the shards it finished');

  const resumed = await runCli([...args, '--resume'], { env, timeoutMs: 120_000 });
  assert.equal(resumed.code, 0, resumed.stderr);
  const all = readFileSync(log, 'utf8');
  assert.ok(all.startsWith(first), 'the first session\'s events are kept, in front');
  const events = all.trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(events.length > first.trim().split('\n').length, 'the resumed session appended its own');
  const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
  const shards = new Set(events.map((e) => e.unit));
  assert.equal(shards.size, run.counts.shards, 'every shard of the run appears');
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  const data = JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]);
  assert.equal(data.timeline.units.length, events.length);
});
