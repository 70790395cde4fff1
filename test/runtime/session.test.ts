import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { GraphBuilder } from '../../src/formats/onnx/graph.js';
import { writeOnnxModel } from '../../src/formats/onnx/writer.js';
import { openSession, parseDevice } from '../../src/runtime/session.js';
import { ResourceError, UsageError } from '../../src/util/errors.js';
import { tempDir } from '../helpers.js';

test('device names parse', () => {
  assert.deepEqual(parseDevice('cpu'), { kind: 'cpu', index: 0 });
  assert.deepEqual(parseDevice('cuda'), { kind: 'cuda', index: 0 });
  assert.deepEqual(parseDevice('CUDA:3'), { kind: 'cuda', index: 3 });
  assert.deepEqual(parseDevice('webgpu'), { kind: 'webgpu', index: 0 });
  assert.throws(() => parseDevice('tpu'), UsageError);
  assert.throws(() => parseDevice('cuda:x'), UsageError);
});

async function identityModel(): Promise<string> {
  const g = new GraphBuilder('id', 18);
  g.output(g.node('Relu', [g.input('x', 'float32', [1])]), 'y', 'float32', [1]);
  const path = join(tempDir(), 'id.onnx');
  await writeOnnxModel(g, path);
  return path;
}

test('a device whose provider cannot start is a ResourceError, or a logged CPU fallback when allowed', async (t) => {
  const path = await identityModel();
  // A CUDA ordinal no machine has: fails whether or not the CUDA provider is installed.
  const device = parseDevice('cuda:97');
  let refused: unknown;
  try {
    const s = await openSession(path, { device });
    await s.session.release();
  } catch (e) {
    refused = e;
  }
  if (refused === undefined) return t.skip('this ONNX Runtime accepted cuda:97');
  assert.ok(refused instanceof ResourceError, String(refused));
  assert.match(refused.message, /cuda:97/);
  assert.ok(refused.hint && /--device cpu/.test(refused.hint));

  const lines: string[] = [];
  const s = await openSession(path, { device, allowCpuFallback: true, log: (l) => lines.push(l) });
  assert.equal(s.device.kind, 'cpu');
  assert.equal(lines.length, 1);
  assert.match(lines[0], /cuda:97 is not usable .*falling back to cpu/);
  await s.session.release();
});
