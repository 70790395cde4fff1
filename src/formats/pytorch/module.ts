/**
 * Whole-module pickles (`torch.save(model)`) unpickle to inert PyObjects
 * whose `__dict__` holds `_parameters`, `_buffers` and `_modules`. This
 * rebuilds what `model.state_dict()` would return from that data, in the same
 * order (a module's parameters, then its persistent buffers, then its
 * children, depth first), without running any of the module's code.
 */
import type { LazyTensor, TensorMap } from '../tensor.js';
import { PyObject } from './pickle.js';

/** True when `v` looks like a pickled torch.nn.Module. */
export function isModuleObject(v: unknown): v is PyObject {
  return v instanceof PyObject && v.attrs._modules instanceof Map && v.attrs._parameters instanceof Map;
}

function isTensor(v: unknown): v is LazyTensor {
  return v !== null && typeof v === 'object' && 'dtype' in v && 'shape' in v && typeof (v as LazyTensor).bytes === 'function';
}

/** The state_dict of a pickled module, with the usual dotted names. */
export function moduleStateDict(module: PyObject, prefix = '', out: TensorMap = new Map()): TensorMap {
  const params = module.attrs._parameters as Map<unknown, unknown>;
  for (const [name, t] of params) if (isTensor(t)) out.set(`${prefix}${String(name)}`, t);
  const buffers = module.attrs._buffers;
  const nonPersistent = module.attrs._non_persistent_buffers_set;
  if (buffers instanceof Map) {
    for (const [name, t] of buffers) {
      if (nonPersistent instanceof Set && nonPersistent.has(name)) continue;
      if (isTensor(t)) out.set(`${prefix}${String(name)}`, t);
    }
  }
  for (const [name, child] of module.attrs._modules as Map<unknown, unknown>) {
    if (isModuleObject(child)) moduleStateDict(child, `${prefix}${String(name)}.`, out);
  }
  return out;
}

/** Follows a dotted path of submodules, e.g. 'bn1' -> the BatchNorm1d object. */
export function submodule(module: PyObject, path: string): PyObject | undefined {
  let cur: unknown = module;
  for (const part of path.split('.')) {
    if (!isModuleObject(cur)) return undefined;
    cur = (cur.attrs._modules as Map<unknown, unknown>).get(part);
  }
  return isModuleObject(cur) ? cur : undefined;
}
