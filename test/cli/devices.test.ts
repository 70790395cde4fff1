/**
 * `virnucpro devices` as a user runs it (a real process, real provider probes): what each device
 * is, whether its provider starts, and the fix when it does not. GPUs are simulated with a stand-in
 * nvidia-smi on PATH; the CUDA provider is not installed on the machines the tests run on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cudaProviderInstalled } from '../../src/runtime/provider-probe.js';
import { repoRoot, tempDir } from '../helpers.js';

const main = join(repoRoot, 'src/cli/main.ts');
const noCudaHere = cudaProviderInstalled() && 'the CUDA provider is installed here';

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

interface Listing {
  devices: Array<{ device: string; name: string; weight: number; provider: string; usable: boolean; reason?: string; memory_mib: number | null }>;
  providers: Array<{ provider: string; usable: boolean; reason?: string; fix?: string }>;
  default_devices?: string[];
}

test('virnucpro devices without nvidia-smi: the CPU and WebGPU rows, CUDA explained, the CPU by default', () => {
  const r = virnucpro(['devices', '--json'], { PATH: `${dirname(process.execPath)}:/usr/bin:/bin` });
  assert.equal(r.code, 0, r.stderr);
  const listing = JSON.parse(r.stdout) as Listing;
  const cpu = listing.devices.find((d) => d.device === 'cpu:0')!;
  assert.deepEqual([cpu.provider, cpu.weight, cpu.usable], ['cpu', 1, true]);
  assert.ok(cpu.memory_mib! > 0);
  assert.ok(listing.devices.some((d) => d.device === 'webgpu:0'));
  const cuda = listing.providers.find((p) => p.provider === 'cuda')!;
  assert.equal(cuda.usable, false);
  assert.match(cuda.reason!, /no NVIDIA GPU found/);
  assert.deepEqual(listing.default_devices, ['cpu:0']);
});

test('virnucpro devices with GPUs but no CUDA provider: each GPU not usable, the install command, the CPU by default', { skip: noCudaHere }, () => {
  const env = { PATH: `${fakeNvidiaSmiDir()}:${process.env.PATH}` };
  const r = virnucpro(['devices', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  const listing = JSON.parse(r.stdout) as Listing;
  assert.deepEqual(
    listing.devices.filter((d) => d.provider === 'cuda').map((d) => [d.device, d.name, d.weight, d.usable]),
    [
      ['cuda:0', 'NVIDIA H200', 2.4, false],
      ['cuda:1', 'Tesla T4', 0.15, false],
    ],
  );
  assert.match(listing.devices[0].reason!, /CUDA provider is not installed/);
  assert.match(listing.providers.find((p) => p.provider === 'cuda')!.fix!, /^install the CUDA provider: ONNXRUNTIME_NODE_INSTALL=cuda12 node \S+\/script\/install\.js/);
  assert.deepEqual(listing.default_devices, ['cpu:0']);

  const text = virnucpro(['devices'], env);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^device\s+name\s+memory\s+weight\s+provider\s+status$/m);
  assert.match(text.stdout, /^cuda:0\s+NVIDIA H200\s+140\.4 GiB\s+2\.4 \(built-in table\)\s+cuda\s+not usable: onnxruntime-node's CUDA provider is not installed/m);
  assert.match(text.stdout, /^\s+cuda\s+does not start: .*\n\s+fix: install the CUDA provider: ONNXRUNTIME_NODE_INSTALL=cuda12 node /m);
  assert.match(text.stdout, /^predict uses by default: cpu:0$/m);

  const one = virnucpro(['devices', '--gpus', '1'], env);
  assert.equal(one.code, 0, one.stderr);
  assert.match(one.stdout, /^cuda:1\s+Tesla T4\s+15\.0 GiB\s+0\.15 \(built-in table\)/m);
  assert.doesNotMatch(one.stdout, /H200|predict uses by default/);
});

test('virnucpro devices on a machine without a Vulkan driver: WebGPU does not start, and the fix says what to install', () => {
  const none = join(tempDir('virnucpro-novk-'), 'no-such-driver.json');
  const r = virnucpro(['devices'], { VK_ICD_FILENAMES: none, VK_DRIVER_FILES: none });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^webgpu:0\s.*not usable: no Vulkan (driver|loader)/m);
  assert.match(r.stdout, /^\s+webgpu\s+does not start: no Vulkan (driver|loader)[^\n]*\n\s+fix: [^\n]*mesa-vulkan-drivers/m);
});

test('virnucpro devices rejects a bad device list, and more than one WebGPU worker, with exit code 2', () => {
  const r = virnucpro(['devices', '--devices', 'tpu:0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown device kind 'tpu'/);
  const two = virnucpro(['devices', '--devices', 'webgpu,webgpu']);
  assert.equal(two.code, 2, two.stderr);
  assert.match(two.stderr, /more than one WebGPU worker would all run on the same GPU: ONNX Runtime gives Node no way to choose the WebGPU adapter/);
  assert.match(two.stderr, /hint: .*--devices cuda:0,cuda:1/);
});
