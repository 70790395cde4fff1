/** PyTorch checkpoints: zip container, restricted unpickler, lazy tensors, module state_dicts, writer. */
export { readTorchFile, listTorchRecords, TorchTensor, STORAGE_DTYPES, type TorchCheckpoint, type TorchStorage } from './checkpoint.js';
export { readZipDirectory, type ZipRecord, type ZipDirectory } from './zip.js';
export { unpickle, PyDict, PyObject, isTuple, UnsafePickleError, type UnpickleResult } from './pickle.js';
export { moduleStateDict, isModuleObject, submodule } from './module.js';
export {
  writeTorchFile,
  writeTorchStateDict,
  writeStoredZip,
  stateDictObject,
  fairEsmCheckpointObject,
  torchModuleObject,
  type TorchModuleParts,
  type FairEsmArgs,
  type TorchLayout,
  type WriteTorchOptions,
} from './writer.js';
export { PyFloat, PyParameter, picklePy } from './pickler.js';
