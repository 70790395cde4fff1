import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, float, float32ToFloat16, float32ToFloat16Bits } from '../../src/formats/onnx/graph.js';
import { writeOnnxModel } from '../../src/formats/onnx/writer.js';
import { ModelProto } from '../../src/formats/onnx/proto.js';
import { halfToFloat } from '../../src/formats/tensor.js';
import { tempDir } from '../helpers.js';

function linearGraph(w: Float32Array): GraphBuilder {
  const g = new GraphBuilder('lin', 18);
  const x = g.input('x', 'float32', ['n', 3]);
  const weight = g.weight('w', 'float32', [2, 3], async () => new Uint8Array(w.buffer.slice(0)));
  const bias = g.weight('b', 'float32', [2], async () => new Uint8Array(Float32Array.from([10, 20]).buffer));
  const y = g.node('Gemm', [x, weight, bias], { transB: 1, alpha: float(1) });
  g.output(y, 'y', 'float32', ['n', 2]);
  return g;
}

test('a written model runs in ONNX Runtime with its weights as external data', async () => {
  const dir = tempDir();
  const path = join(dir, 'lin.onnx');
  const written = await writeOnnxModel(linearGraph(Float32Array.from([1, 2, 3, 4, 5, 6])), path);
  assert.equal(written.dataPath, `${path}.data`);
  assert.equal(written.weightBytes, 32);
  const session = await ort.InferenceSession.create(path);
  const r = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1, 1, 1, 1, 0, 0]), [2, 3]) });
  assert.deepEqual([...(r.y.data as Float32Array)], [16, 35, 11, 24]);
  await session.release();

  // The model references the side file; tensors are page-aligned in it.
  const model = ModelProto.toObject(ModelProto.decode(readFileSync(path)), { longs: Number }) as {
    graph: { initializer: Array<{ name: string; data_location?: number; external_data?: Array<{ key: string; value: string }>; raw_data?: Uint8Array }> };
  };
  const w = model.graph.initializer.find((t) => t.name === 'w')!;
  assert.equal(w.data_location, 1);
  assert.equal(w.raw_data, undefined);
  const ext = Object.fromEntries(w.external_data!.map((e) => [e.key, e.value]));
  assert.deepEqual(ext, { location: 'lin.onnx.data', offset: '0', length: '24' });
  const b = model.graph.initializer.find((t) => t.name === 'b')!;
  assert.equal(Object.fromEntries(b.external_data!.map((e) => [e.key, e.value])).offset, '4096');
  assert.equal(statSync(written.dataPath).size, 4096 + 8);
});

test('writing is deterministic', async () => {
  const dir = tempDir();
  const w = Float32Array.from([1, 2, 3, 4, 5, 6]);
  await writeOnnxModel(linearGraph(w), join(dir, 'a.onnx'));
  await writeOnnxModel(linearGraph(w), join(dir, 'b.onnx'));
  assert.deepEqual(readFileSync(join(dir, 'a.onnx.data')), readFileSync(join(dir, 'b.onnx.data')));
  const a = readFileSync(join(dir, 'a.onnx')).toString('latin1').replaceAll('a.onnx.data', 'X');
  const b = readFileSync(join(dir, 'b.onnx')).toString('latin1').replaceAll('b.onnx.data', 'X');
  assert.equal(a, b);
});

test('a weight that fails to load leaves neither the model nor its data file behind', async () => {
  const dir = tempDir();
  const g = linearGraph(Float32Array.from([1, 2, 3, 4, 5, 6]));
  g.weight('broken', 'float32', [4], async () => {
    throw new Error('disk on fire');
  });
  await assert.rejects(writeOnnxModel(g, join(dir, 'm.onnx')), /disk on fire/);
  assert.deepEqual(readdirSync(dir), []);
  assert.equal(existsSync(join(dir, 'm.onnx')), false);
});

test('a weight with the wrong byte count is refused', async () => {
  const g = new GraphBuilder('bad', 18);
  g.weight('w', 'float32', [3], async () => new Uint8Array(8));
  await assert.rejects(writeOnnxModel(g, join(tempDir(), 'm.onnx')), /expected 12 bytes/);
});

test('float32 -> float16 rounds to nearest even, saturates to infinity, keeps subnormals and NaN', () => {
  for (const v of [0, -0, 1, -2.5, 0.1, 65504, 6.1035156e-5, 5.96e-8, 1e-3, 3.14159]) {
    const back = halfToFloat(float32ToFloat16Bits(v));
    assert.ok(Math.abs(back - v) <= Math.abs(v) * 2 ** -11 + 2 ** -25, `${v} -> ${back}`);
  }
  assert.equal(float32ToFloat16Bits(1 + 2 ** -11), 0x3c00); // tie -> even (down)
  assert.equal(float32ToFloat16Bits(1 + 3 * 2 ** -11), 0x3c02); // tie -> even (up)
  assert.equal(float32ToFloat16Bits(70000), 0x7c00);
  assert.equal(float32ToFloat16Bits(-70000), 0xfc00);
  assert.ok(Number.isNaN(halfToFloat(float32ToFloat16Bits(NaN))));
  assert.equal(halfToFloat(float32ToFloat16Bits(2 ** -24)), 2 ** -24);
  const bulk = float32ToFloat16(Float32Array.from([1, -2, 0.5]));
  assert.deepEqual([...new Uint16Array(bulk.buffer)], [0x3c00, 0xc000, 0x3800]);
});

test('the same value name twice is a builder error', () => {
  const g = new GraphBuilder('dup', 18);
  g.input('x', 'float32', [1]);
  assert.throws(() => g.input('x', 'float32', [1]), /used twice/);
});
