/**
 * Every heavy node of the ESM-2, DNABERT-S and classifier graphs runs on the WebGPU provider:
 * ONNX Runtime's verbose session log says where each node is placed; a MatMul, LayerNorm,
 * Softmax... or any node on the activation path placed on the CPU fails the test (ORT keeps int64
 * shape and mask arithmetic on the CPU on purpose: those are listed, not failed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { GraphBuilder } from '../../src/formats/onnx/graph.js';
import { maskedMean } from '../../src/formats/onnx/layers.js';
import { OnnxDataType } from '../../src/formats/onnx/proto.js';
import { writeOnnxModel } from '../../src/formats/onnx/writer.js';
import { buildClassifierGraph } from '../../src/models/classifier.js';
import { buildDnabertGraph } from '../../src/models/dnabert.js';
import { buildEsm2Graph } from '../../src/models/esm2.js';
import { loadEsm2 } from '../../src/models/load.js';
import { CPU_PROVIDER, heavyNodesOnCpu, nodePlacement } from '../../src/runtime/webgpu-placement.js';
import { fixture, tempDir } from '../helpers.js';
import { classifierFromJson, dnabertFromSafetensors } from '../runtime/fixture-models.js';
import { webgpuSkip } from './adapter.js';

const skip = await webgpuSkip();
const WEBGPU = 'WebGpuExecutionProvider';
const dir = tempDir();

async function placementOf(name: string, g: GraphBuilder) {
  const path = join(dir, `${name.replace(/\W+/g, '_')}.onnx`);
  await writeOnnxModel(g, path);
  const placement = await nodePlacement(path, 'webgpu');
  return { placement, heavy: heavyNodesOnCpu(g, placement) };
}

test('no heavy node of the model graphs is placed on the CPU (ESM-2 and DNABERT-S fp32/fp16, classifier)', { skip }, async (t) => {
  const esm2 = await loadEsm2(fixture('esm2/fair-esm/esm2_t2_32_tiny.pt'));
  const dnabert = dnabertFromSafetensors();
  const classifier = classifierFromJson();
  const graphs: Array<[string, GraphBuilder]> = [
    ...(['fp32', 'fp16'] as const).flatMap((precision): Array<[string, GraphBuilder]> => [
      [`ESM-2 ${precision}`, buildEsm2Graph(esm2.config, esm2.weights, { precision })],
      [`DNABERT-S ${precision}`, buildDnabertGraph(dnabert.config, dnabert.weights, { precision })],
    ]),
    ['classifier', buildClassifierGraph(classifier.config, classifier.weights)],
  ];
  for (const [name, g] of graphs) {
    const { placement, heavy } = await placementOf(name, g);
    const onCpu = placement.byProvider.get(CPU_PROVIDER) ?? [];
    t.diagnostic(`${name}: on the CPU: ${onCpu.map((n) => n.opType).join(' ') || 'nothing'}`);
    const onGpu = placement.allOn === WEBGPU ? g.nodes : (placement.byProvider.get(WEBGPU) ?? []);
    assert.ok(onGpu.some((n) => n.opType === 'Gemm'), `${name}: the placement log was read`);
    assert.deepEqual(heavy, [], `${name}: heavy nodes on the CPU`);
  }
});

test('the check fails a graph whose pooling runs in float64 (WebGPU has none, so it runs on the CPU)', { skip }, async () => {
  // What the graphs did before pooling moved to float32: x [B, T, E] -> float64 -> mean.
  const g = new GraphBuilder('float64_pooling', 18);
  const x = g.input('x', 'float32', ['batch', 'tokens', 8]);
  const mask = g.input('mask', 'int64', ['batch', 'tokens']);
  const x64 = g.node('Cast', [x], { to: OnnxDataType.float64 });
  const sum = g.node('ReduceSum', [g.node('Mul', [x64, g.node('Unsqueeze', [g.node('Cast', [mask], { to: OnnxDataType.float64 }), g.ints([2])])]), g.ints([1])], { keepdims: 0 });
  g.output(g.node('Cast', [sum], { to: OnnxDataType.float32 }), 'pooled', 'float32', ['batch', 8]);
  const { heavy } = await placementOf('float64', g);
  assert.ok(heavy.some((n) => n.opType === 'ReduceSum'), JSON.stringify(heavy));

  // The float32 pooling the graphs use stays on the GPU.
  const h = new GraphBuilder('float32_pooling', 18);
  const y = h.input('x', 'float32', ['batch', 'tokens', 8]);
  const keep = h.node('Cast', [h.input('mask', 'int64', ['batch', 'tokens'])], { to: OnnxDataType.bool });
  h.output(maskedMean(h, y, keep), 'pooled', 'float32', ['batch', 8]);
  assert.deepEqual((await placementOf('float32', h)).heavy, []);
});
