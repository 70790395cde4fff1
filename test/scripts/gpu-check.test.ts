/**
 * The one-shot GPU check (scripts/gpu-check.sh, docs/gpu.md) is run on a GPU machine only when a
 * session is lent one, so what can fail without a GPU is checked here: both shell scripts parse, the
 * PyTorch side parses, and the Node side (plan, run, report) runs end to end on this machine with
 * stand-in shapes (--small): WebGPU on whatever Vulkan driver there is (lavapipe in CI), or a report
 * saying it did not start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, tempDir, tsxImport } from '../helpers.js';

const script = (name: string) => join(repoRoot, 'scripts', name);

test('gpu-check.sh and prepare-device-carry.sh parse (bash -n); gpu-check-torch.py parses', () => {
  for (const name of ['gpu-check.sh', 'prepare-device-carry.sh']) {
    const r = spawnSync('bash', ['-n', script(name)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${name}: ${r.stderr}`);
  }
  const python = ['python3', '/usr/bin/python3'].find((py) => spawnSync(py, ['--version']).status === 0);
  if (python) {
    const r = spawnSync(python, ['-c', 'import ast, sys; ast.parse(open(sys.argv[1]).read())', script('gpu-check-torch.py')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
});

test('the Node side of the GPU check runs end to end with stand-in shapes: plan, run, report', () => {
  const work = tempDir('virnucpro-gpu-check-');
  const out = join(work, 'out');
  const check = (args: string[]) =>
    spawnSync(process.execPath, ['--import', tsxImport, script('gpu-check.ts'), ...args, '--work', work], {
      encoding: 'utf8',
      env: { ...process.env, TMPDIR: work, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? work },
      timeout: 300_000,
    });
  let r = check(['plan', '--small']);
  assert.equal(r.status, 0, r.stderr);
  const plan = JSON.parse(readFileSync(join(work, 'plan.json'), 'utf8'));
  assert.deepEqual(plan.numerics.lengths, [31, 32, 64, 1024]);
  assert.deepEqual(
    plan.models.map((m: { key: string }) => m.key),
    ['esm2', 'dnabert-s'],
  );
  for (const m of plan.models) assert.deepEqual([...m.batches.flat()].sort((a: number, b: number) => a - b), m.lengths.map((_: number, i: number) => i), 'every sequence in one batch');

  r = check(['run', '--small', '--budget', '120']);
  assert.equal(r.status, 0, r.stderr);
  const ort = JSON.parse(readFileSync(join(work, 'ort.json'), 'utf8'));
  const webgpu = ort.providers.find((p: { provider: string }) => p.provider === 'webgpu');
  if (webgpu.usable) {
    const lengths = ort.numerics.filter((n: { precision: string; model: string }) => n.precision === 'fp32' && n.model.startsWith('ESM-2')).map((n: { tokens: number }) => n.tokens);
    assert.deepEqual(lengths, [31, 32, 64, 1024]);
    for (const n of ort.numerics.filter((x: { precision: string }) => x.precision === 'fp32')) assert.ok(n.max_abs_diff < 1e-4, JSON.stringify(n));
    assert.equal(ort.throughput.length, 4, 'two models, fp16 and fp32');
    for (const t of ort.throughput) assert.ok(t.tokens_per_s > 0, JSON.stringify(t));
  } else {
    assert.match(webgpu.reason, /Vulkan|adapter|WebGPU/);
  }

  r = check(['report', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const figures = readFileSync(join(out, 'figures.md'), 'utf8');
  assert.match(figures, /## Numerics against the CPU/);
  assert.match(figures, /## Throughput/);
  assert.ok(existsSync(join(out, 'figures.json')));
});
