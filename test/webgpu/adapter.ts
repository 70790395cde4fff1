/**
 * Whether this machine has a WebGPU adapter ONNX Runtime can use, as the `skip` option of the
 * WebGPU tests: false when it has, else the reason and the fix (CI installs Mesa's lavapipe,
 * a software Vulkan driver, so these tests run there without a GPU: see .ci/run).
 */
import { probeProviders } from '../../src/runtime/provider-probe.js';

export async function webgpuSkip(): Promise<string | false> {
  const [probe] = await probeProviders({ webgpu: true });
  return probe.usable ? false : `no usable WebGPU adapter: ${probe.reason}; fix: ${probe.fix}`;
}
