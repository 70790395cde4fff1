/**
 * The VirNucPro MLPClassifier as `torch.save(model)` pickles it (eval mode,
 * torch 1.13 attribute set): hidden_layer (Linear), bn1 (BatchNorm1d),
 * output_layer (Linear), dropout (Dropout), as the published 300_model.pth and
 * 500_model.pth hold it. The tensors are the classifier schema's (schema.ts),
 * by canonical name.
 */
import { writeTorchFile, torchModuleObject, type WriteTorchOptions } from '../formats/pytorch/writer.js';
import type { PyObject } from '../formats/pytorch/pickle.js';
import { PyFloat } from '../formats/pytorch/pickler.js';
import type { LazyTensor, TensorMap } from '../formats/tensor.js';
import type { ClassifierConfig } from './config.js';
import { classifierSchema } from './schema.js';

/** VirNucPro's `nn.Dropout(0.5)`: no tensors, but part of the pickled module. */
const DROPOUT_P = 0.5;

/** `bn1.num_batches_tracked` when the weights do not carry it (a state_dict saved without buffers). */
const NO_BATCHES_TRACKED: LazyTensor = { dtype: 'int64', shape: [], bytes: async () => new Uint8Array(8) };

/** The pickled module tree; `weights` must hold every tensor of the classifier schema that VirNucPro reads. */
export function classifierModuleObject(weights: TensorMap, config: ClassifierConfig): PyObject {
  const tensors = new Map<string, LazyTensor>();
  for (const spec of classifierSchema(config)) {
    const t = weights.get(spec.name);
    if (t) tensors.set(spec.name, t);
    else if (spec.role === 'step-count') tensors.set(spec.name, NO_BATCHES_TRACKED);
    else throw new Error(`classifier weights lack '${spec.name}'`);
  }
  const w = (name: string): LazyTensor => tensors.get(name)!;
  const linear = (prefix: string, inF: number, outF: number): PyObject =>
    torchModuleObject({
      className: 'torch.nn.modules.linear.Linear',
      parameters: [['weight', w(`${prefix}.weight`)], ['bias', w(`${prefix}.bias`)]],
      attributes: { in_features: inF, out_features: outF },
    });
  const bn1 = torchModuleObject({
    className: 'torch.nn.modules.batchnorm.BatchNorm1d',
    parameters: [['weight', w('bn1.weight')], ['bias', w('bn1.bias')]],
    buffers: [['running_mean', w('bn1.running_mean')], ['running_var', w('bn1.running_var')], ['num_batches_tracked', w('bn1.num_batches_tracked')]],
    attributes: { num_features: config.hiddenDim, eps: new PyFloat(config.bnEps), momentum: new PyFloat(0.1), affine: true, track_running_stats: true },
  });
  const dropout = torchModuleObject({ className: 'torch.nn.modules.dropout.Dropout', attributes: { p: new PyFloat(DROPOUT_P), inplace: false } });
  return torchModuleObject({
    className: '__main__.MLPClassifier',
    children: [
      ['hidden_layer', linear('hidden_layer', config.inputDim, config.hiddenDim)],
      ['bn1', bn1],
      ['output_layer', linear('output_layer', config.hiddenDim, config.numClasses)],
      ['dropout', dropout],
    ],
  });
}

/** Writes the classifier as a whole-module pickle (`torch.load` gives back an MLPClassifier). */
export async function writeClassifierModule(path: string, weights: TensorMap, config: ClassifierConfig, options: WriteTorchOptions = {}): Promise<void> {
  await writeTorchFile(path, classifierModuleObject(weights, config), options);
}
