/**
 * run.json records the ONNX Runtime threads each worker ran with, also when -t
 * is left out (it used to record `threads: null` then): the cores shared among
 * the CPU workers, or what was passed to GPU workers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { threadsPerWorker, PREDICT_DEFAULTS } from '../../src/pipeline/predict-options.js';
import { resolveDevices } from '../../src/scheduler/devices.js';
import { fixture, fixtureModelFlags, repoRoot, tempDir, tsxImport } from '../helpers.js';

const CLI = join(repoRoot, 'src/cli/main.ts');
const dir = tempDir('virnucpro-threads-');
const MODELS = fixtureModelFlags(join(dir, 'cache'));

function predict(out: string, extra: string[]): Promise<{ code: number | null; stderr: string; threads: unknown }> {
  return new Promise((resolve, reject) => {
    const args = ['predict', fixture('e2e/input.fa'), '-e', '500', ...MODELS, '-o', join(dir, out), '-q', ...extra];
    const child = spawn(process.execPath, ['--import', tsxImport, CLI, ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const threads = code === 0 ? JSON.parse(readFileSync(join(dir, out, 'run.json'), 'utf8')).parameters.threads : undefined;
      resolve({ code, stderr, threads });
    });
  });
}

test('without -t, run.json records the threads each CPU worker used: the cores shared among the CPU workers', async () => {
  const cores = availableParallelism();
  const one = await predict('one-cpu', ['--device', 'cpu']);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(one.threads, cores);
  if (cores >= 2) {
    const two = await predict('two-cpu', ['--devices', 'cpu:2']);
    assert.equal(two.code, 0, two.stderr);
    assert.equal(two.threads, Math.floor(cores / 2));
  }
  const given = await predict('given', ['--device', 'cpu', '-t', '1']);
  assert.equal(given.code, 0, given.stderr);
  assert.equal(given.threads, 1);
});

test('the thread count of a run: -t when given, else cores per CPU worker, else the GPU workers\' default', () => {
  const gpus = [{ index: 0, name: 'NVIDIA H200', memoryMiB: 143771 }];
  assert.equal(threadsPerWorker(3, resolveDevices({ devices: 'cpu:2' }, []), 16), 3);
  assert.equal(threadsPerWorker(undefined, resolveDevices({ devices: 'cpu:2' }, []), 16), 8);
  assert.equal(threadsPerWorker(undefined, resolveDevices({ devices: 'cpu:3' }, []), 2), 1);
  assert.equal(threadsPerWorker(undefined, resolveDevices({ devices: 'cuda:0' }, gpus), 16), PREDICT_DEFAULTS.gpuWorkerThreads);
  assert.equal(threadsPerWorker(undefined, resolveDevices({ devices: 'cuda:0,cpu' }, gpus), 16), 16);
});
