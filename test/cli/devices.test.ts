import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, tempDir } from '../helpers.js';

const main = join(repoRoot, 'src/cli/main.ts');

function virnucpro(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', main, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A directory with a stand-in nvidia-smi that answers the device query like a two-GPU machine. */
function fakeNvidiaSmiDir(): string {
  const dir = tempDir('virnucpro-nvsmi-');
  writeFileSync(join(dir, 'nvidia-smi'), '#!/bin/sh\nprintf "0, NVIDIA H200, 143771\\n1, Tesla T4, 15360\\n"\n');
  chmodSync(join(dir, 'nvidia-smi'), 0o755);
  return dir;
}

test('virnucpro devices without nvidia-smi lists one CPU device', () => {
  const r = virnucpro(['devices', '--json'], { PATH: `${join(process.execPath, '..')}:/usr/bin:/bin` });
  assert.equal(r.code, 0, r.stderr);
  const { devices } = JSON.parse(r.stdout);
  assert.equal(devices.length, 1);
  assert.equal(devices[0].device, 'cpu:0');
  assert.equal(devices[0].provider, 'cpu');
  assert.equal(devices[0].weight, 1);
  assert.ok(devices[0].memory_mib > 0);
});

test('virnucpro devices lists detected GPUs with table weights and honours --gpus', () => {
  const env = { PATH: `${fakeNvidiaSmiDir()}:${process.env.PATH}` };
  const all = JSON.parse(virnucpro(['devices', '--json'], env).stdout).devices;
  assert.deepEqual(
    all.map((d: { device: string; name: string; weight: number; provider: string }) => [d.device, d.name, d.weight, d.provider]),
    [
      ['cuda:0', 'NVIDIA H200', 2.4, 'cuda'],
      ['cuda:1', 'Tesla T4', 0.15, 'cuda'],
    ],
  );
  const one = virnucpro(['devices', '--gpus', '1'], env);
  assert.equal(one.code, 0, one.stderr);
  assert.match(one.stdout, /^device\s+name\s+memory\s+weight\s+provider$/m);
  assert.match(one.stdout, /^cuda:1\s+Tesla T4\s+15\.0 GiB\s+0\.15 \(built-in table\)/m);
  assert.doesNotMatch(one.stdout, /H200/);
});

test('virnucpro devices rejects a bad device list with exit code 2', () => {
  const r = virnucpro(['devices', '--devices', 'tpu:0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown device kind 'tpu'/);
});
