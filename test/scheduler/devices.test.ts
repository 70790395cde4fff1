import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import {
  defaultDevices,
  describeSkipped,
  detectNvidiaGpus,
  parseNvidiaSmiList,
  parseWeights,
  resolveDevices,
  tableWeightFor,
  type DetectedGpu,
} from '../../src/scheduler/devices.js';
import { cudaInstallCommand, cudaProviderInstalled, type ProbeResult } from '../../src/runtime/provider-probe.js';
import { parseSlowdown, slowdownFor } from '../../src/scheduler/slowdown.js';
import { ResourceError, UsageError } from '../../src/util/errors.js';
import { tempDir } from '../helpers.js';

const gpus: DetectedGpu[] = [
  { index: 0, name: 'NVIDIA H100 80GB HBM3', memoryMiB: 81559 },
  { index: 1, name: 'NVIDIA A100-SXM4-40GB', memoryMiB: 40960 },
  { index: 2, name: 'Tesla T4', memoryMiB: 15360 },
];

test('--devices accepts cuda, webgpu and cpu entries; cpu:N is N workers', () => {
  assert.deepEqual(
    resolveDevices({ devices: 'cpu:3' }, []).map((d) => d.id),
    ['cpu:0', 'cpu:1', 'cpu:2'],
  );
  assert.deepEqual(
    resolveDevices({ devices: 'cpu' }, []).map((d) => d.id),
    ['cpu:0'],
  );
  const mixed = resolveDevices({ devices: 'cuda:2,webgpu:0,cpu' }, gpus);
  assert.deepEqual(
    mixed.map((d) => [d.id, d.provider, d.ordinal]),
    [
      ['cuda:2', 'cuda', 2],
      ['webgpu:0', 'webgpu', 0],
      ['cpu:0', 'cpu', 0],
    ],
  );
  assert.equal(mixed[0].name, 'Tesla T4');
  assert.equal(mixed[0].tableWeight, 0.15);
  assert.deepEqual(
    resolveDevices({ devices: 'cuda' }, gpus).map((d) => d.id),
    ['cuda:0', 'cuda:1', 'cuda:2'],
  );
});

test('--gpus keeps physical IDs; no flag means every GPU, else one CPU worker', () => {
  assert.deepEqual(
    resolveDevices({ gpus: '0,2' }, gpus).map((d) => d.id),
    ['cuda:0', 'cuda:2'],
  );
  assert.deepEqual(
    resolveDevices({}, gpus).map((d) => d.id),
    ['cuda:0', 'cuda:1', 'cuda:2'],
  );
  assert.deepEqual(
    resolveDevices({}, []).map((d) => d.id),
    ['cpu:0'],
  );
});

test('bad device lists are usage errors that say what is wrong', () => {
  assert.throws(() => resolveDevices({ devices: 'tpu:0' }, gpus), (e: Error) => e instanceof UsageError && /unknown device kind 'tpu'/.test(e.message));
  assert.throws(() => resolveDevices({ devices: 'cpu:0' }, []), UsageError);
  assert.throws(() => resolveDevices({ devices: 'cuda:x' }, gpus), UsageError);
  assert.throws(() => resolveDevices({ devices: 'cpu,,cpu' }, []), /empty entry/);
  assert.throws(() => resolveDevices({ devices: 'cuda:0,cuda:0' }, gpus), /listed twice/);
  assert.throws(() => resolveDevices({ devices: 'cpu', gpus: '0' }, gpus), /cannot be used together/);
  assert.throws(() => resolveDevices({ gpus: '5' }, gpus), (e: Error) => e instanceof ResourceError && /reports GPUs 0, 1, 2/.test(e.message));
  assert.throws(() => resolveDevices({ devices: 'cuda:0' }, []), /reports no GPUs/);
});

test('one WebGPU worker at most, on the adapter ONNX Runtime picks: more is a usage error that points to CUDA', () => {
  assert.deepEqual(
    resolveDevices({ devices: 'webgpu' }, []).map((d) => d.id),
    ['webgpu:0'],
  );
  for (const devices of ['webgpu,webgpu', 'webgpu:0,cpu,webgpu:0', 'webgpu:1']) {
    assert.throws(
      () => resolveDevices({ devices }, gpus),
      (e: Error) => e instanceof UsageError && /no way to choose the WebGPU adapter/.test(e.message) && /--devices cuda:0,cuda:1/.test((e as UsageError).hint ?? ''),
      devices,
    );
  }
});

test('default devices: GPUs whose CUDA provider does not start are left out with the reason and the fix, and the CPU runs', { skip: cudaProviderInstalled() && 'the CUDA provider is installed here' }, async () => {
  // The real probe (a child process with onnxruntime-node): here the CUDA provider is not installed.
  const { devices, skipped } = await defaultDevices(gpus);
  assert.deepEqual(
    devices.map((d) => d.id),
    ['cpu:0'],
  );
  assert.deepEqual(
    skipped.map((s) => s.device.id),
    ['cuda:0', 'cuda:1', 'cuda:2'],
  );
  const lines = describeSkipped(skipped, devices);
  assert.equal(lines.length, 1, 'one line for one reason');
  assert.match(lines[0], /^note: not using cuda:0 \(NVIDIA H100 80GB HBM3\), cuda:1 \(NVIDIA A100-SXM4-40GB\), cuda:2 \(Tesla T4\): onnxruntime-node's CUDA provider is not installed/);
  assert.ok(lines[0].includes(cudaInstallCommand()), lines[0]);
  assert.match(lines[0], /Running on cpu:0\.$/);
});

test('default devices keep the GPUs whose provider starts; no GPU means one CPU worker and no probe', async () => {
  // Stands in for a machine where only GPU 1 has a working CUDA setup (no such GPU here).
  const probe = async (ordinals: readonly number[]): Promise<ProbeResult[]> =>
    ordinals.map((ordinal) =>
      ordinal === 1 ? { provider: 'cuda', ordinal, usable: true } : { provider: 'cuda', ordinal, usable: false, reason: 'cuDNN 9 is missing (libcudnn.so.9 not found)', fix: 'install cuDNN 9' },
    );
  const { devices, skipped } = await defaultDevices(gpus, probe);
  assert.deepEqual(
    devices.map((d) => d.id),
    ['cuda:1'],
  );
  assert.deepEqual(describeSkipped(skipped, devices), [
    'note: not using cuda:0 (NVIDIA H100 80GB HBM3), cuda:2 (Tesla T4): cuDNN 9 is missing (libcudnn.so.9 not found); to use them, install cuDNN 9. Running on cuda:1.',
  ]);
  let probed = false;
  const none = await defaultDevices([], async () => ((probed = true), []));
  assert.deepEqual(
    none.devices.map((d) => d.id),
    ['cpu:0'],
  );
  assert.equal(probed, false);
});

test('the weight table knows common GPUs and tells A10 from A100', () => {
  assert.equal(tableWeightFor('NVIDIA H200').weight, 2.4);
  assert.equal(tableWeightFor('NVIDIA H100 PCIe').weight, 1.7);
  assert.equal(tableWeightFor('NVIDIA A100-SXM4-80GB').weight, 1.1);
  assert.equal(tableWeightFor('NVIDIA A100-PCIE-40GB').weight, 1.0);
  assert.equal(tableWeightFor('NVIDIA A10').weight, 0.45);
  assert.equal(tableWeightFor('NVIDIA GeForce RTX 4090').weight, 0.9);
  assert.equal(tableWeightFor('Tesla V100-SXM2-16GB').weight, 0.45);
  assert.deepEqual(tableWeightFor('Some Future GPU'), { weight: 1, known: false });
});

test('nvidia-smi output is parsed; an absent nvidia-smi means no GPUs', async () => {
  assert.deepEqual(parseNvidiaSmiList('0, NVIDIA H200, 143771\n1, NVIDIA H100 80GB HBM3, 81559\n'), [
    { index: 0, name: 'NVIDIA H200', memoryMiB: 143771 },
    { index: 1, name: 'NVIDIA H100 80GB HBM3', memoryMiB: 81559 },
  ]);
  assert.deepEqual(await detectNvidiaGpus({ command: 'nvidia-smi-that-does-not-exist' }), []);
  const fake = join(tempDir(), 'nvidia-smi');
  writeFileSync(fake, '#!/bin/sh\necho "0, NVIDIA L40S, 46068"\n');
  chmodSync(fake, 0o755);
  assert.deepEqual(await detectNvidiaGpus({ command: fake }), [{ index: 0, name: 'NVIDIA L40S', memoryMiB: 46068 }]);
});

test('--gpu-weights needs one positive number per device', () => {
  assert.deepEqual(parseWeights('1,1.5,4', 3), [1, 1.5, 4]);
  assert.throws(() => parseWeights('1,2', 3), /2 weights for 3 devices/);
  assert.throws(() => parseWeights('1,-2', 2), /positive numbers/);
  assert.throws(() => parseWeights('1,x', 2), /positive numbers/);
});

test('VIRNUCPRO_DEVICE_SLOWDOWN maps device indices to factors', () => {
  assert.deepEqual([...parseSlowdown('0=2,1=3.5')], [
    [0, 2],
    [1, 3.5],
  ]);
  assert.equal(slowdownFor(2, { VIRNUCPRO_DEVICE_SLOWDOWN: '2=4' }), 4);
  assert.equal(slowdownFor(1, { VIRNUCPRO_DEVICE_SLOWDOWN: '2=4' }), 1);
  assert.equal(slowdownFor(0, {}), 1);
  assert.throws(() => parseSlowdown('2=0.5'), /FACTOR >= 1/);
  assert.throws(() => parseSlowdown('cuda:0=2'), UsageError);
});
