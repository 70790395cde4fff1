/**
 * VirNucPro's MLPClassifier as an ONNX graph:
 *   features [N, inputDim]  (DNABERT-S mean first, then ESM-2 mean, as merge_data concatenates)
 *   -> hidden_layer (Linear) -> bn1 (BatchNorm1d, eval: running stats, eps from config)
 *   -> ReLU -> (Dropout: inactive at inference) -> output_layer (Linear) -> softmax
 *   => probabilities [N, numClasses]  (index 1 = virus)
 * The graph runs in float32 whatever the requested precision: it is tiny.
 */
import { GraphBuilder, float } from '../formats/onnx/graph.js';
import { LayerBuilder } from '../formats/onnx/layers.js';
import type { TensorMap } from '../formats/tensor.js';
import type { ClassifierConfig } from './config.js';

export const CLASSIFIER_INPUT = 'features';
export const CLASSIFIER_OUTPUT = 'probabilities';

export function buildClassifierGraph(config: ClassifierConfig, weights: TensorMap, source = 'classifier'): GraphBuilder {
  const { inputDim, hiddenDim, numClasses, bnEps } = config;
  const g = new GraphBuilder('virnucpro_mlp_classifier', 18);
  const nn = new LayerBuilder(g, weights, 'float32', source);

  const x = g.input(CLASSIFIER_INPUT, 'float32', ['rows', inputDim]);
  const hidden = nn.linear(x, 'hidden_layer', inputDim, hiddenDim);
  const bn = g.node(
    'BatchNormalization',
    [hidden, ...['weight', 'bias', 'running_mean', 'running_var'].map((k) => nn.param(`bn1.${k}`, [hiddenDim]))],
    { epsilon: float(bnEps) },
  );
  const logits = nn.linear(g.node('Relu', [bn]), 'output_layer', hiddenDim, numClasses);
  g.output(g.node('Softmax', [logits], { axis: -1 }), CLASSIFIER_OUTPUT, 'float32', ['rows', numClasses]);
  return g;
}
