/**
 * A device whose provider cannot run the models (issue 15), with the real
 * WebGPU provider of onnxruntime-node:
 * - no adapter at all (forced here by pointing the Vulkan loader at no
 *   driver): the worker cannot start; exit code 4 naming ORT's error and the
 *   fix, or the CPU with --allow-cpu-fallback;
 * - whatever this machine has: WebGPU either runs the models, or fails
 *   permanently (e.g. an op input the provider lacks, which ORT reports only on
 *   the first run); then the device is retired at once, never retried per
 *   shard, and --allow-cpu-fallback moves the work to the CPU.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, fixtureModelFlags, repoRoot, tempDir, tsxImport } from '../helpers.js';

const CLI = join(repoRoot, 'src/cli/main.ts');
const dir = tempDir('virnucpro-webgpu-');
const MODELS = fixtureModelFlags(join(dir, 'cache'));
/** The Vulkan loader then finds no driver, so Dawn finds no adapter, on any machine. */
const NO_ADAPTER = { VK_ICD_FILENAMES: join(dir, 'no-such-driver.json') };

function virnucpro(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', tsxImport, CLI, ...args], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

let outs = 0;
function predict(extra: string[], env: Record<string, string> = {}) {
  const out = join(dir, `out-${++outs}`);
  return virnucpro(['predict', fixture('e2e/input.fa'), '-e', '500', ...MODELS, '-o', out, '--shard-tokens', '300', ...extra], env).then((r) => ({ ...r, out }));
}

test('predict --device webgpu without an adapter: exit code 4 with the whole reason and the fix', async () => {
  const r = await predict(['--device', 'webgpu'], NO_ADAPTER);
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /error: no worker started \(webgpu:0: device webgpu is not usable: Failed to get a WebGPU adapter: No supported adapters\)/);
  assert.doesNotMatch(r.stderr, /onnxruntime_src|ResourceError:/, 'no C++ source location or class name in the message');
  assert.match(r.stderr, /\nhint: [^\n]*--allow-cpu-fallback/);
});

test('predict --device webgpu --allow-cpu-fallback without an adapter runs on the CPU with a warning', async () => {
  const r = await predict(['--device', 'webgpu', '--allow-cpu-fallback'], NO_ADAPTER);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /device webgpu is not usable \(Failed to get a WebGPU adapter: No supported adapters\); falling back to cpu/);
});

test("predict --device webgpu with this machine's WebGPU: it runs, or fails once with exit code 4 and the fix", async () => {
  const r = await predict(['--device', 'webgpu']);
  assert.doesNotMatch(r.stderr, /retrying/, 'an error no retry can fix must not be retried');
  if (r.code !== 0) {
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /\nhint: [^\n]*--allow-cpu-fallback/, r.stderr);
  }
  const fallback = await predict(['--device', 'webgpu', '--allow-cpu-fallback']);
  assert.equal(fallback.code, 0, fallback.stderr);
  if (r.code !== 0) assert.match(fallback.stderr, /warning: device webgpu [^\n]*; falling back to cpu/);
});

test('with WebGPU and a CPU worker, a WebGPU that cannot run the models is retired after one shard; the CPU does the rest', async () => {
  const r = await predict(['--devices', 'webgpu,cpu']);
  assert.equal(r.code, 0, r.stderr);
  const run = JSON.parse(readFileSync(join(r.out, 'run.json'), 'utf8')) as { devices: Array<{ device: string; failures: number; shards: number }> };
  const webgpu = run.devices.find((d) => d.device === 'webgpu:0');
  assert.ok(webgpu, JSON.stringify(run.devices));
  assert.ok(webgpu.failures <= 1, `webgpu:0 failed ${webgpu.failures} shards: ${r.stderr}`);
  if (webgpu.failures === 1) assert.match(r.stderr, /device webgpu:0 retired: it cannot run this work/);
});

test("embed --device webgpu: it runs, or stops with exit code 4 and the fix (never an internal error); the fallback runs on the CPU", async () => {
  const base = ['embed', 'esm2', '--weights', fixture('esm2/hf'), '-i', fixture('esm2/proteins.fasta'), '--cache-dir', join(dir, 'cache'), '--device', 'webgpu'];
  const r = await virnucpro([...base, '-o', join(dir, 'e1.jsonl')]);
  if (r.code !== 0) {
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /error: device webgpu (cannot run this model|is not usable): [^\n]*\nhint: [^\n]*--allow-cpu-fallback/);
  }
  const fallback = await virnucpro([...base, '-o', join(dir, 'e2.jsonl'), '--allow-cpu-fallback']);
  assert.equal(fallback.code, 0, fallback.stderr);
  if (r.code !== 0) assert.match(fallback.stderr, /warning: device webgpu [^\n]*falling back to cpu/);
});
