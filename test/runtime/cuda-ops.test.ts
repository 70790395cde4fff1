/**
 * The graphs stay inside what ONNX Runtime's CUDA provider implements (src/runtime/cuda-ops.ts
 * holds the table, with its sources): every op of the ESM-2, DNABERT-S and classifier graphs built
 * from the fixture weights, fp32 and fp16, with its domain, opset and element type. No GPU needed:
 * a node outside the table would run on the CPU with copies both ways, silently.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder, float } from '../../src/formats/onnx/graph.js';
import { MS_DOMAIN } from '../../src/formats/onnx/layers.js';
import { buildClassifierGraph } from '../../src/models/classifier.js';
import { buildDnabertGraph } from '../../src/models/dnabert.js';
import { buildEsm2Graph } from '../../src/models/esm2.js';
import { loadClassifier, loadEsm2 } from '../../src/models/load.js';
import { cudaGaps, opsOf } from '../../src/runtime/cuda-ops.js';
import { fixture } from '../helpers.js';
import { dnabertFromSafetensors } from './fixture-models.js';

test('the ESM-2, DNABERT-S and classifier graphs use only ops the CUDA provider implements (fp32 and fp16)', async (t) => {
  const esm2 = await loadEsm2(fixture('esm2/fair-esm/esm2_t2_32_tiny.pt'));
  const dnabert = dnabertFromSafetensors();
  const classifier = await loadClassifier(fixture('mlp/mlp_full_module.pth'));
  const graphs = (['fp32', 'fp16'] as const).flatMap((precision) => [
    { name: `ESM-2 ${precision}`, g: buildEsm2Graph(esm2.config, esm2.weights, { precision }) },
    { name: `DNABERT-S ${precision}`, g: buildDnabertGraph(dnabert.config, dnabert.weights, { precision }) },
  ]);
  graphs.push({ name: 'classifier', g: buildClassifierGraph(classifier.config, classifier.weights) });
  for (const { name, g } of graphs) {
    const ops = opsOf(g);
    assert.ok(ops.length >= 3, `${name}: ops listed`);
    assert.ok(!ops.some((u) => u.elemType === 'unknown'), `${name}: every op's element type is known: ${JSON.stringify(ops.filter((u) => u.elemType === 'unknown'))}`);
    // Printed with --test-reporter=spec: the list a reviewer compares with ONNX Runtime's table.
    t.diagnostic(`${name}: ${ops.map((u) => `${u.domain || 'ai.onnx'}:${u.opType}(${u.opset}):${u.elemType}`).join(' ')}`);
    assert.deepEqual(cudaGaps(g), [], `${name} has ops the CUDA provider would leave to the CPU`);
  }
});

test('the check reports an op without a CUDA kernel, an opset before its kernel, and an element type the kernel lacks', () => {
  const g = new GraphBuilder('gaps', 18);
  const x = g.input('x', 'float32', [2, 4]);
  const ids = g.input('ids', 'int64', [2, 4]);
  g.node('Einsum', [x, x], { equation: 'ij,ij->i' });
  g.node('Gelu', [x]); // ai.onnx Gelu exists from opset 20; this graph is opset 18
  g.node('Pad', [ids, g.ints([0, 0, 0, 1])]); // CUDA Pad: bool and floats only
  g.node('MultiHeadAttention', [g.node('Cast', [x], { to: 11 }), x, x], { num_heads: 1, scale: float(1) }, { domain: MS_DOMAIN }); // float64 query
  const gaps = cudaGaps(g).map((u) => `${u.opType}: ${u.reason}`);
  assert.deepEqual(gaps.sort(), [
    'Einsum: no CUDA kernel',
    'Gelu: no CUDA kernel for opset 18',
    'MultiHeadAttention: the CUDA kernel does not take float64',
    'Pad: the CUDA kernel does not take int64',
  ]);
});

test("MultiHeadAttention with an additive attention_bias and RotaryEmbedding (com.microsoft) are on the CUDA provider's list", () => {
  const g = new GraphBuilder('fused', 18);
  const q = g.input('q', 'float16', [1, 8, 64]);
  const bias = g.input('bias', 'float16', [1, 1, 8, 8]);
  const pos = g.input('pos', 'int64', [1, 8]);
  const cache = g.input('cos', 'float16', [8, 16]);
  const rotated = g.node('RotaryEmbedding', [q, pos, cache, cache], { interleaved: 0 }, { domain: MS_DOMAIN });
  g.node('MultiHeadAttention', [rotated, rotated, rotated, '', '', bias], { num_heads: 2, scale: float(0.125) }, { domain: MS_DOMAIN });
  assert.deepEqual(cudaGaps(g), []);
});
