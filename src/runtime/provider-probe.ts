/**
 * Provider probes: can an ONNX Runtime execution provider start on this machine,
 * and when it cannot, why and what fixes it.
 *
 * A probe opens a session for a one-node graph (y = x + x) with that provider
 * alone, runs it once and checks the answer. It runs in a child process, for
 * three reasons: a provider that cannot start sometimes aborts the whole process
 * (Dawn) or hangs (a CUDA driver in a bad state), which a timeout and a separate
 * process contain; the Vulkan loader, Dawn and ONNX Runtime write the real cause
 * to stderr ("Found no drivers!", "libcublasLt.so.12: cannot open shared object
 * file"), which only a child's stderr lets us read; and a process that tried
 * CUDA keeps its context, which the caller may not want. Nothing is cached: each
 * call probes afresh, so installing a driver or the CUDA provider shows at once.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { GraphBuilder } from '../formats/onnx/graph.js';
import { writeOnnxModel } from '../formats/onnx/writer.js';
import { ortErrorSummary } from './device-failures.js';

export type ProviderName = 'cpu' | 'webgpu' | 'cuda';

/** One provider (and, for CUDA, one GPU) as a probe found it. */
export interface ProbeResult {
  provider: ProviderName;
  /** CUDA device ordinal probed (0 for the others). */
  ordinal: number;
  usable: boolean;
  /** Why it cannot start, in one sentence (absent when usable). */
  reason?: string;
  /** What makes it start (absent when usable). */
  fix?: string;
  /** ONNX Runtime's own error, first line, without the C++ source location. */
  detail?: string;
  /** WebGPU: the Vulkan devices Dawn chooses from, where Mesa's device-select layer lists them. */
  vulkanDevices?: VulkanDevice[];
}

/** A Vulkan physical device as Mesa's device-select layer lists it. */
export interface VulkanDevice {
  name: string;
  /** 'discrete GPU', 'integrated GPU', 'virtual GPU', 'CPU' (a software driver such as lavapipe) or 'other'. */
  type: string;
  /** PCI vendor:device IDs, hex. */
  id: string;
}

/**
 * The device list Mesa's device-select layer prints with MESA_VK_DEVICE_SELECT_DEBUG=1
 * (`  GPU 0: 10005:0 "llvmpipe (LLVM 15.0.6, 256 bits)" CPU`), once per Vulkan instance.
 */
export function parseVulkanDeviceList(stderr: string): VulkanDevice[] {
  const seen = new Map<string, VulkanDevice>();
  for (const m of stderr.matchAll(/^ {2}GPU (\d+): ([0-9a-f]+:[0-9a-f]+) "([^"]*)" (discrete GPU|integrated GPU|virtual GPU|CPU|other)/gm)) {
    seen.set(m[1], { name: m[3], type: m[4], id: m[2] });
  }
  return [...seen.values()];
}

export interface ProbeOptions {
  /** Per provider process (default 60 s: creating CUDA contexts on many GPUs takes seconds each). */
  timeoutMs?: number;
  /** Environment of the probe processes (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** onnxruntime-node's package directory. */
function ortPackageDir(): string {
  return dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
}

/**
 * The command that installs onnxruntime-node's CUDA 12 provider (it is not in the npm package:
 * onnxruntime-node's install script downloads it from NuGet). Run directly rather than through
 * `npm rebuild`, which skips the script for a package `allowScripts` denies (see docs/gpu.md).
 */
export function cudaInstallCommand(): string {
  const script = join(ortPackageDir(), 'script', 'install.js');
  return `ONNXRUNTIME_NODE_INSTALL=cuda12 node ${/^[\w./+-]+$/.test(script) ? script : `'${script.replace(/'/g, `'\\''`)}'`}`;
}

/** Whether onnxruntime-node's CUDA provider libraries are present (what the install command adds). */
export function cudaProviderInstalled(): boolean {
  try {
    const bin = join(ortPackageDir(), 'bin');
    return readdirSync(bin).some((napi) => existsSync(join(bin, napi, process.platform, process.arch, 'libonnxruntime_providers_cuda.so')));
  } catch {
    return false; // onnxruntime-node not resolvable: no CUDA provider either
  }
}

/** Where the Vulkan loader looks for driver manifests (ICDs) on Linux, in its order. */
export function vulkanDriverManifests(env: NodeJS.ProcessEnv = process.env): string[] {
  const override = env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES;
  if (override) return override.split(delimiter).filter((f) => f !== '' && existsSync(f));
  const dataDirs = (env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(delimiter);
  const dirs = ['/etc/vulkan/icd.d', ...dataDirs.map((d) => join(d, 'vulkan', 'icd.d'))];
  if (env.XDG_DATA_HOME || env.HOME) dirs.unshift(join(env.XDG_DATA_HOME || join(env.HOME!, '.local/share'), 'vulkan', 'icd.d'));
  const found: string[] = [];
  for (const dir of dirs) {
    try {
      for (const f of readdirSync(dir).sort()) if (f.endsWith('.json')) found.push(join(dir, f));
    } catch {
      // a directory that is not there holds no driver
    }
  }
  return found;
}

/** Every Vulkan device is a software one (Mesa's lavapipe): WebGPU then runs on the CPU (right for tests, no use for speed). */
export function isSoftwareVulkan(devices: readonly VulkanDevice[]): boolean {
  return devices.length > 0 && devices.every((d) => d.type === 'CPU');
}

/** Shared libraries the dynamic loader could not open, as ORT logs them ("libX.so.12: cannot open shared object file"). */
function missingLibraries(text: string): string[] {
  return [...new Set([...text.matchAll(/(lib[\w.+-]+?\.so(?:\.\d+)*): cannot open shared object file/g)].map((m) => m[1]))];
}

const LIB_PATH_FIX = 'and make them visible to the dynamic loader (their lib directory in LD_LIBRARY_PATH, or ldconfig)';

/** Why the CUDA provider did not start, from its error and the probe's stderr. */
export function diagnoseCuda(error: string, log: string, providerInstalled: boolean): { reason: string; fix: string } {
  const text = `${error}\n${log}`;
  const missing = missingLibraries(text);
  const install = `install the CUDA provider: ${cudaInstallCommand()} (it downloads a few hundred MB from NuGet; see docs/gpu.md)`;
  if (!providerInstalled || missing.some((l) => /^libonnxruntime_providers_(shared|cuda)\.so/.test(l))) {
    return { reason: "onnxruntime-node's CUDA provider is not installed (the npm package does not contain it)", fix: install };
  }
  const cudnn = missing.filter((l) => /^libcudnn/.test(l));
  if (cudnn.length > 0) {
    return { reason: `cuDNN 9 is missing (${cudnn.join(', ')} not found)`, fix: `install cuDNN 9 for CUDA 12 ${LIB_PATH_FIX}` };
  }
  const cuda = missing.filter((l) => /^lib(cu|nv)/.test(l));
  if (cuda.length > 0) {
    return { reason: `the CUDA 12 libraries are missing (${cuda.join(', ')} not found)`, fix: `install the CUDA 12 runtime and cuBLAS (CUDA toolkit 12.x) ${LIB_PATH_FIX}` };
  }
  if (missing.length > 0) {
    return { reason: `a library the CUDA provider needs is missing (${missing.join(', ')})`, fix: `install it ${LIB_PATH_FIX}` };
  }
  if (/driver version is insufficient|CUDA driver is a stub|cudaErrorInsufficientDriver/i.test(text)) {
    return { reason: "the NVIDIA driver is too old for CUDA 12", fix: 'install an NVIDIA driver for CUDA 12 (525 or newer)' };
  }
  if (/no CUDA-capable device|cudaErrorNoDevice|invalid device ordinal|cudaErrorInvalidDevice/i.test(text)) {
    return { reason: 'CUDA sees no such GPU', fix: 'check nvidia-smi and CUDA_VISIBLE_DEVICES (CUDA numbers only the GPUs it makes visible)' };
  }
  return { reason: `the CUDA provider did not start (${ortErrorSummary(error)})`, fix: 'check the NVIDIA driver (nvidia-smi), CUDA 12 and cuDNN 9; see docs/gpu.md' };
}

/** Why WebGPU (Dawn over Vulkan) did not start, from its error, the probe's stderr and the drivers present. */
export function diagnoseWebgpu(error: string, log: string, env: NodeJS.ProcessEnv = process.env): { reason: string; fix: string } {
  const text = `${error}\n${log}`;
  const runtimeDir = env.XDG_RUNTIME_DIR ? '' : '; also set XDG_RUNTIME_DIR to a writable directory';
  const driverFix =
    'install a Vulkan driver: the GPU vendor\'s (NVIDIA: the driver\'s Vulkan ICD, nvidia_icd.json; AMD/Intel: mesa-vulkan-drivers), ' +
    'or on a machine without a GPU Mesa 25\'s lavapipe (Debian 12: apt-get install -t bookworm-backports mesa-vulkan-drivers); ' +
    'a manifest outside /usr/share/vulkan/icd.d is named with VK_DRIVER_FILES' +
    runtimeDir;
  if (/libvulkan\.so(\.1)?[^\n]*(cannot open|not found)|Couldn't load Vulkan|Failed to load Vulkan/i.test(text)) {
    return { reason: 'no Vulkan loader (libvulkan.so.1)', fix: `install it (Debian/Ubuntu: apt-get install libvulkan1), then ${driverFix}` };
  }
  if (/Found no drivers|VK_ERROR_INCOMPATIBLE_DRIVER/.test(text) || vulkanDriverManifests(env).length === 0) {
    return { reason: 'no Vulkan driver', fix: driverFix };
  }
  if (/No supported adapters|Failed to get a WebGPU adapter/i.test(text)) {
    return {
      reason: `Dawn found Vulkan drivers (${vulkanDriverManifests(env).map((m) => m.split('/').pop()).join(', ')}) but no adapter it supports`,
      fix:
        'use a current driver: Debian 12\'s own Mesa 22 lavapipe lacks features Dawn requires, Mesa 25 works (apt-get install -t bookworm-backports mesa-vulkan-drivers); for NVIDIA the proprietary driver' +
        runtimeDir,
    };
  }
  return { reason: `WebGPU did not start (${ortErrorSummary(error)})`, fix: driverFix };
}

/**
 * The probe, run by `node -e` in the child. argv: ORT package dir, model path, provider, ordinals (JSON).
 * Prints one JSON line per ordinal: {ordinal, ok, error?}. CommonJS, no imports of ours: it must run
 * the same under tsx (tests) and from dist/.
 */
const CHILD = `
const [ortDir, model, provider, ordinalsJson] = process.argv.slice(1);
const ort = require(ortDir);
ort.env.logLevel = 'error';
(async () => {
  for (const ordinal of JSON.parse(ordinalsJson)) {
    const ep = provider === 'cuda' ? { name: 'cuda', deviceId: ordinal } : provider;
    let session;
    try {
      session = await ort.InferenceSession.create(model, { executionProviders: [ep], logSeverityLevel: 3 });
      const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4]), [4]) });
      const y = Array.from(out.y.data);
      const ok = y.join(',') === '2,4,6,8';
      process.stdout.write(JSON.stringify({ ordinal, ok, error: ok ? undefined : 'wrong result ' + y.join(',') }) + '\\n');
    } catch (e) {
      process.stdout.write(JSON.stringify({ ordinal, ok: false, error: String(e && e.message || e) }) + '\\n');
    }
    if (session) await session.release().catch(() => {});
  }
})();
`;

interface ChildRun {
  results: Array<{ ordinal: number; ok: boolean; error?: string }>;
  stderr: string;
  /** Why the process ended early (timeout, signal, exit code), when it did. */
  ended?: string;
}

function runChild(args: string[], timeoutMs: number, env: NodeJS.ProcessEnv): Promise<ChildRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', CHILD, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let ended: string | undefined;
    const timer = setTimeout(() => {
      ended = `it did not finish within ${Math.round(timeoutMs / 1000)} s`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    // Keep the end of stderr only: Dawn can be chatty, the cause is near the end.
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-20_000)));
    child.on('error', (e) => (ended = `it could not be started (${e.message})`));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (!ended && (signal || code !== 0)) ended = signal ? `it was killed by ${signal}` : `it exited with code ${code}`;
      const results = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { ordinal: number; ok: boolean; error?: string });
      resolve({ results, stderr, ended });
    });
  });
}

/** The one-node model every probe runs. */
async function writeProbeModel(dir: string): Promise<string> {
  const g = new GraphBuilder('virnucpro_provider_probe', 17);
  const x = g.input('x', 'float32', [4]);
  g.output(g.node('Add', [x, x]), 'y', 'float32', [4]);
  const path = join(dir, 'probe.onnx');
  await writeOnnxModel(g, path);
  return path;
}

/**
 * Probes each provider once (CUDA once per ordinal in `cudaOrdinals`), one child process per
 * provider, all at the same time. CUDA is not probed when `cudaOrdinals` is empty.
 */
export async function probeProviders(
  which: { cpu?: boolean; webgpu?: boolean; cudaOrdinals?: readonly number[] },
  options: ProbeOptions = {},
): Promise<ProbeResult[]> {
  const env = options.env ?? process.env;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const dir = await mkdtemp(join(tmpdir(), 'virnucpro-probe-'));
  try {
    const model = await writeProbeModel(dir);
    const jobs: Array<Promise<ProbeResult[]>> = [];
    const probe = async (provider: ProviderName, ordinals: readonly number[]): Promise<ProbeResult[]> => {
      // Mesa's device-select layer (where installed) then lists the Vulkan devices on stderr.
      const childEnv = provider === 'webgpu' ? { ...env, MESA_VK_DEVICE_SELECT_DEBUG: '1' } : env;
      const run = await runChild([ortPackageDir(), model, provider, JSON.stringify(ordinals)], timeoutMs, childEnv);
      return ordinals.map((ordinal) => judge(provider, ordinal, run, env));
    };
    if (which.cpu) jobs.push(probe('cpu', [0]));
    if (which.webgpu) jobs.push(probe('webgpu', [0]));
    if (which.cudaOrdinals && which.cudaOrdinals.length > 0) jobs.push(probe('cuda', which.cudaOrdinals));
    return (await Promise.all(jobs)).flat();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function judge(provider: ProviderName, ordinal: number, run: ChildRun, env: NodeJS.ProcessEnv): ProbeResult {
  const result = run.results.find((r) => r.ordinal === ordinal);
  const vulkanDevices = provider === 'webgpu' ? parseVulkanDeviceList(run.stderr) : [];
  const listed = vulkanDevices.length > 0 ? { vulkanDevices } : {};
  if (result?.ok) return { provider, ordinal, usable: true, ...listed };
  const error = result?.error ?? `the probe process ended before answering: ${run.ended ?? 'no output'}`;
  const { reason, fix } =
    provider === 'cuda'
      ? diagnoseCuda(error, run.stderr, cudaProviderInstalled())
      : provider === 'webgpu'
        ? diagnoseWebgpu(error, run.stderr, env)
        : { reason: `ONNX Runtime's CPU provider did not start (${ortErrorSummary(error)})`, fix: 'reinstall the dependencies (npm ci)' };
  return { provider, ordinal, usable: false, reason, fix, detail: ortErrorSummary(error), ...listed };
}
