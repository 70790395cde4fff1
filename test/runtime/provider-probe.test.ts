/**
 * Provider probes (src/runtime/provider-probe.ts) with the real onnxruntime-node in real child
 * processes: the CPU starts; WebGPU without a Vulkan driver (the loader pointed at none) does not,
 * and says so with the fix; CUDA without its provider libraries says how to install them. The
 * diagnoses of failures this machine cannot produce (CUDA installed but its libraries missing,
 * no Vulkan loader) are checked on ONNX Runtime's and the loader's own wordings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  cudaInstallCommand,
  cudaProviderInstalled,
  diagnoseCuda,
  diagnoseWebgpu,
  isSoftwareVulkan,
  parseVulkanDeviceList,
  probeProviders,
} from '../../src/runtime/provider-probe.js';
import { repoRoot, tempDir } from '../helpers.js';

const dir = tempDir('virnucpro-probe-test-');
const NO_VULKAN_DRIVER = { ...process.env, VK_ICD_FILENAMES: join(dir, 'no-such-driver.json'), VK_DRIVER_FILES: join(dir, 'no-such-driver.json') };

test('the CPU provider starts; WebGPU with no Vulkan driver does not, and the probe names the fix', async () => {
  const [cpu, webgpu] = await probeProviders({ cpu: true, webgpu: true }, { env: NO_VULKAN_DRIVER });
  assert.deepEqual(cpu, { provider: 'cpu', ordinal: 0, usable: true });
  assert.equal(webgpu.provider, 'webgpu');
  assert.equal(webgpu.usable, false);
  assert.match(webgpu.reason!, /^no Vulkan (driver|loader)/);
  assert.match(webgpu.fix!, /mesa-vulkan-drivers/);
  assert.match(webgpu.detail!, /adapter|Vulkan/i);
  assert.doesNotMatch(webgpu.detail!, /onnxruntime_src/, 'no C++ source location');
});

test('CUDA without its provider libraries: not usable, with the install command (one answer per GPU)', { skip: cudaProviderInstalled() && 'the CUDA provider is installed here' }, async () => {
  const results = await probeProviders({ cudaOrdinals: [0, 3] });
  assert.deepEqual(
    results.map((r) => [r.provider, r.ordinal, r.usable]),
    [
      ['cuda', 0, false],
      ['cuda', 3, false],
    ],
  );
  assert.match(results[0].reason!, /CUDA provider is not installed/);
  assert.ok(results[0].fix!.includes(cudaInstallCommand()));
  assert.match(results[0].detail!, /Failed to load shared library/);
});

test('CUDA diagnoses from ONNX Runtime wordings: provider missing, CUDA 12 or cuDNN 9 missing, driver too old', () => {
  const lib = (name: string) =>
    `Failed to load library libonnxruntime_providers_cuda.so with error: ${name}: cannot open shared object file: No such file or directory`;
  assert.match(diagnoseCuda('Failed to load shared library', lib('libonnxruntime_providers_shared.so'), true).reason, /provider is not installed/);
  assert.match(diagnoseCuda('Failed to load shared library', '', false).fix, /ONNXRUNTIME_NODE_INSTALL=cuda12 node \S+install\.js/);
  const cublas = diagnoseCuda('Failed to load shared library', lib('libcublasLt.so.12'), true);
  assert.equal(cublas.reason, 'the CUDA 12 libraries are missing (libcublasLt.so.12 not found)');
  assert.match(cublas.fix, /LD_LIBRARY_PATH/);
  const cudnn = diagnoseCuda('Failed to load shared library', lib('libcudnn.so.9'), true);
  assert.equal(cudnn.reason, 'cuDNN 9 is missing (libcudnn.so.9 not found)');
  assert.match(diagnoseCuda('CUDA failure 35: CUDA driver version is insufficient for CUDA runtime version', '', true).reason, /driver is too old/);
  assert.match(diagnoseCuda('CUDA failure 100: no CUDA-capable device is detected', '', true).fix, /CUDA_VISIBLE_DEVICES/);
});

test('WebGPU diagnoses: no loader, no driver, drivers Dawn refuses; the Vulkan device list Mesa prints', () => {
  const env = { XDG_RUNTIME_DIR: dir, VK_DRIVER_FILES: join(dir, 'none.json') };
  assert.equal(diagnoseWebgpu('x', "Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file", env).reason, 'no Vulkan loader (libvulkan.so.1)');
  assert.equal(diagnoseWebgpu('No supported adapters', 'Warning: vkCreateInstance: Found no drivers!', env).reason, 'no Vulkan driver');
  assert.doesNotMatch(diagnoseWebgpu('No supported adapters', '', env).fix, /XDG_RUNTIME_DIR/);
  assert.match(diagnoseWebgpu('No supported adapters', '', { VK_DRIVER_FILES: join(dir, 'none.json') }).fix, /XDG_RUNTIME_DIR/, 'an unset XDG_RUNTIME_DIR is named');
  const oldMesa = join(dir, 'lvp_icd.x86_64.json');
  writeFileSync(oldMesa, '{}');
  const refused = diagnoseWebgpu('Failed to get a WebGPU adapter: No supported adapters', '', { XDG_RUNTIME_DIR: dir, VK_DRIVER_FILES: oldMesa });
  assert.equal(refused.reason, 'Dawn found Vulkan drivers (lvp_icd.x86_64.json) but no adapter it supports');
  assert.match(refused.fix, /bookworm-backports/);
  const listed = parseVulkanDeviceList(
    'selectable devices:\n  GPU 0: 10005:0 "llvmpipe (LLVM 15.0.6, 256 bits)" CPU\nselectable devices:\n  GPU 0: 10005:0 "llvmpipe (LLVM 15.0.6, 256 bits)" CPU\n',
  );
  assert.deepEqual(listed, [{ name: 'llvmpipe (LLVM 15.0.6, 256 bits)', type: 'CPU', id: '10005:0' }]);
  assert.equal(isSoftwareVulkan(listed), true);
  assert.equal(isSoftwareVulkan(parseVulkanDeviceList('  GPU 0: 10de:2335 "NVIDIA H200" discrete GPU 0000:41:00.0\n')), false);
});

test('the CUDA install path: the command runs the script that installs the file the probe looks for; npm is not asked to run it', () => {
  const ort = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  const script = cudaInstallCommand().replace(/^ONNXRUNTIME_NODE_INSTALL=cuda12 node /, '');
  assert.equal(script, join(ort, 'script', 'install.js'));
  assert.ok(existsSync(script), script);
  const metadata = createRequire(import.meta.url)(join(ort, 'script', 'install-metadata.js')) as {
    requirements: Record<string, string[]>;
    manifests: Record<string, Record<string, unknown>>;
  };
  assert.deepEqual(metadata.requirements['linux/x64'], ['cuda12']);
  assert.ok('./libonnxruntime_providers_cuda.so' in metadata.manifests['linux/x64:cuda12'], 'the script installs what cudaProviderInstalled() checks');
  // npm 11.16+ reads allowScripts; a denied package's install script never runs (npm help install-scripts),
  // so `npm ci` needs no network. The .npmrc key npm warned about is gone.
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  assert.equal(pkg.allowScripts?.['onnxruntime-node'], false);
  const npmrc = join(repoRoot, '.npmrc');
  if (existsSync(npmrc)) assert.doesNotMatch(readFileSync(npmrc, 'utf8'), /onnxruntime-node-install/);
});
