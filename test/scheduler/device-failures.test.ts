/**
 * Errors no retry can fix (issue 15): a device whose provider cannot run the
 * work is retired at its first such error, its shards go to the other
 * devices, and with no device left the run fails at once (ResourceError, exit
 * code 4) naming the provider's error, instead of failing every shard three times.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Coordinator } from '../../src/scheduler/coordinator.js';
import { resolveDevices } from '../../src/scheduler/devices.js';
import type { ShardDescriptor } from '../../src/scheduler/types.js';
import { classifyError } from '../../src/pipeline/shard-worker.js';
import { ortErrorSummary } from '../../src/runtime/device-failures.js';
import { ExitCode, InputError, ResourceError } from '../../src/util/errors.js';
import { expectedWork, type WorkPayload } from './fixtures/work-handler.js';
import { ORT_NOT_IMPLEMENTED, type BrokenDeviceInit } from './fixtures/broken-device-handler.js';

const handlerModule = new URL('./fixtures/broken-device-handler.ts', import.meta.url).pathname;

function makeShards(n: number): ShardDescriptor[] {
  return Array.from({ length: n }, (_, i) => {
    const payload: WorkPayload = { seed: `shard-${i}`, cost: 2 + (i % 5) };
    return { id: `shard-${String(i).padStart(3, '0')}`, cost: payload.cost, payload };
  });
}

function coordinator(devices: string, broken: string[], logs: string[]): Coordinator {
  const init: BrokenDeviceInit = { hashRoundsPerCost: 20, sleepMsPerCost: 2, broken };
  return new Coordinator({
    devices: resolveDevices({ devices }, []),
    handler: { module: handlerModule, init },
    log: (line) => logs.push(line),
  });
}

test("ONNX Runtime's provider errors are permanent; crashes, out of memory and our own errors are not", () => {
  const permanent = [
    ORT_NOT_IMPLEMENTED,
    'Failed to load shared library libonnxruntime_providers_cuda.so',
    '/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 onnxruntime::webgpu::WebGpuContext::Initialize(...) adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters',
    "Could not find an implementation for RotaryEmbedding(23) node with name 'rope_0'",
    '[ONNXRuntimeError] : 9 : NOT_IMPLEMENTED : Unsupported data type',
    '[ONNXRuntimeError] : 10 : INVALID_GRAPH : This is an invalid model.',
  ];
  for (const m of permanent) assert.equal(classifyError(new Error(m)), 'permanent', m);
  const transient = [
    'Failed to allocate memory for requested buffer of size 123456',
    'CUDA failure 2: out of memory',
    'worker on cuda:0 killed by SIGKILL',
    'VIRNUCPRO_TEST_FAIL_SHARD: shard 2 fails on purpose',
  ];
  for (const m of transient) assert.equal(classifyError(new Error(m)), 'transient', m);
  // A bad shard file is about the data, whatever words it uses.
  assert.equal(classifyError(new InputError('shard-000002.tsv: unsupported format version 9')), 'transient');
  assert.equal(ortErrorSummary(new Error(permanent[2])), 'Failed to get a WebGPU adapter: No supported adapters');
});

test('a device failing with a permanent error is retired at once and the others finish its shards', async () => {
  const logs: string[] = [];
  const shards = makeShards(12);
  const results = new Map<string, unknown>();
  const report = await coordinator('cpu:2', ['cpu:1'], logs).run(shards, (shard, result) => void results.set(shard.id, result));
  assert.equal(report.complete, true, logs.join('\n'));
  assert.equal(results.size, shards.length);
  for (const s of shards) assert.deepEqual(results.get(s.id), expectedWork(s.payload as WorkPayload, { hashRoundsPerCost: 20 }));
  const [good, broken] = report.devices;
  assert.equal(broken.failures, 1, 'the broken device must not be given a second shard');
  assert.equal(broken.shards, 0);
  assert.equal(good.shards, shards.length);
  assert.ok(logs.some((l) => l.includes('device cpu:1 retired') && l.includes('not implemented for webgpu')), logs.join('\n'));
  assert.ok(!logs.some((l) => l.includes('retrying')), 'a permanent error must not be retried');
});

test('with no device left after a permanent error the run fails at once with exit code 4', async () => {
  const logs: string[] = [];
  const c = coordinator('cpu:1', ['cpu:0'], logs);
  let dispatches = 0;
  c.on('dispatch', () => dispatches++);
  await assert.rejects(c.run(makeShards(5), () => undefined), (e: unknown) => {
    assert.ok(e instanceof ResourceError, String(e));
    assert.equal(e.exitCode, ExitCode.resource);
    assert.match(e.message, /cpu:0.*key_padding_mask` not implemented for webgpu/);
    assert.match(e.hint ?? '', /--devices/, 'a handler error without a hint of its own gets the generic one');
    return true;
  });
  assert.equal(dispatches, 1, 'one shard is enough to know the device cannot run the work');
});
