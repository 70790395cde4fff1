/**
 * predict's device defaults on a machine whose GPUs ONNX Runtime cannot use (issue 10): nvidia-smi
 * lists two GPUs (a stand-in on PATH), the CUDA provider is not installed, so predict runs on the
 * CPU, exit code 0, saying which GPUs it left out and the command that enables them. Also
 * `--batch-tokens auto` (one value per run, kept on resume) and the refusal of a second WebGPU worker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cudaProviderInstalled } from '../../src/runtime/provider-probe.js';
import { fixture, fixtureModelFlags, repoRoot, tempDir, tsxImport } from '../helpers.js';

const CLI = join(repoRoot, 'src/cli/main.ts');
const dir = tempDir('virnucpro-gpu-defaults-');
const MODELS = fixtureModelFlags(join(dir, 'cache'));
const bin = join(dir, 'bin');
mkdirSync(bin);
writeFileSync(join(bin, 'nvidia-smi'), '#!/bin/sh\nprintf "0, NVIDIA H200, 143771\\n1, Tesla T4, 15360\\n"\n');
chmodSync(join(bin, 'nvidia-smi'), 0o755);

function virnucpro(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
    const child = spawn(process.execPath, ['--import', tsxImport, CLI, ...args], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

const predict = (out: string, extra: string[] = []) => virnucpro(['predict', fixture('e2e/input.fa'), '-e', '500', ...MODELS, '-o', join(dir, out), ...extra]);
const runJson = (out: string) => JSON.parse(readFileSync(join(dir, out, 'run.json'), 'utf8'));

test('predict with no device flag on GPUs whose CUDA provider is missing: runs on the CPU and says how to enable the GPUs', { skip: cudaProviderInstalled() && 'the CUDA provider is installed here' }, async () => {
  const r = await predict('defaults');
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /note: not using cuda:0 \(NVIDIA H200\), cuda:1 \(Tesla T4\): onnxruntime-node's CUDA provider is not installed[^\n]*; to use them, install the CUDA provider: ONNXRUNTIME_NODE_INSTALL=cuda12 node \S+install\.js[^\n]*Running on cpu:0\./,
  );
  assert.deepEqual(runJson('defaults').parameters.devices, ['cpu:0']);
});

test('--batch-tokens auto: one value for the run, recorded in run.json; a resumed run keeps the interrupted run\'s value', async () => {
  const auto = await predict('auto', ['--device', 'cpu', '--batch-tokens', 'auto']);
  assert.equal(auto.code, 0, auto.stderr);
  assert.match(auto.stderr, /--batch-tokens auto: 4096 padded tokens per batch \(the default: cpu:0 is one of the run's devices\)/);
  assert.deepEqual([runJson('auto').parameters.batch_tokens, runJson('auto').parameters.batch_tokens_auto], [4096, true]);

  const first = await predict('resumed', ['--device', 'cpu', '--batch-tokens', '2048']);
  assert.equal(first.code, 0, first.stderr);
  const resumed = await predict('resumed', ['--device', 'cpu', '--batch-tokens', 'auto', '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(runJson('resumed').parameters.batch_tokens, 2048);

  const bad = await predict('bad', ['--batch-tokens', 'lots']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--batch-tokens must be an integer from 1 to 1000000, got 'lots'/);
});

test('predict refuses a second WebGPU worker before any work, with exit code 2', async () => {
  const r = await predict('two-webgpu', ['--devices', 'webgpu,webgpu']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /ONNX Runtime gives Node no way to choose the WebGPU adapter/);
});
