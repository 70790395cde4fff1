/**
 * Devices: parsing `--devices` / `--gpus`, detecting NVIDIA GPUs through
 * `nvidia-smi`, choosing the default devices (the GPUs whose provider starts,
 * else the CPU), and the built-in table of GPU capability weights used by
 * `--gpu-weighted` when calibration is off.
 */
import { spawn } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { probeProviders, type ProbeResult } from '../runtime/provider-probe.js';
import { ResourceError, UsageError } from '../util/errors.js';
import { checkCpuWorkers } from './limits.js';
import type { DeviceSpec } from './types.js';

/** A GPU as reported by `nvidia-smi --query-gpu=index,name,memory.total`. */
export interface DetectedGpu {
  index: number;
  name: string;
  memoryMiB: number;
}

/**
 * Relative inference throughput of common GPUs for transformer encoders in
 * fp32/fp16 (A100 40 GB = 1). Approximate: a blend of dense tensor throughput
 * and memory bandwidth. Calibration (the default with `--gpu-weighted`)
 * measures the real ratio; this table is the fallback with `--no-calibrate`.
 * Patterns are tried in order, so the specific ones come first.
 */
export const GPU_WEIGHT_TABLE: ReadonlyArray<{ pattern: RegExp; label: string; weight: number }> = [
  { pattern: /H200/i, label: 'H200', weight: 2.4 },
  { pattern: /H100.*(PCIe)/i, label: 'H100 PCIe', weight: 1.7 },
  { pattern: /H100.*NVL/i, label: 'H100 NVL', weight: 2.0 },
  { pattern: /H100/i, label: 'H100 SXM', weight: 2.2 },
  { pattern: /GH200/i, label: 'GH200', weight: 2.4 },
  { pattern: /A100.*80\s*GB/i, label: 'A100 80 GB', weight: 1.1 },
  { pattern: /A100/i, label: 'A100 40 GB', weight: 1.0 },
  { pattern: /L40S/i, label: 'L40S', weight: 1.0 },
  { pattern: /\bL40\b/i, label: 'L40', weight: 0.85 },
  { pattern: /RTX\s*6000\s*Ada/i, label: 'RTX 6000 Ada', weight: 0.9 },
  { pattern: /RTX\s*4090/i, label: 'RTX 4090', weight: 0.9 },
  { pattern: /RTX\s*A6000/i, label: 'RTX A6000', weight: 0.55 },
  { pattern: /\bA40\b/i, label: 'A40', weight: 0.55 },
  { pattern: /RTX\s*3090/i, label: 'RTX 3090', weight: 0.5 },
  { pattern: /\bA10G\b/i, label: 'A10G', weight: 0.4 },
  { pattern: /\bA10\b/i, label: 'A10', weight: 0.45 },
  { pattern: /V100/i, label: 'V100', weight: 0.45 },
  { pattern: /\bL4\b/i, label: 'L4', weight: 0.35 },
  { pattern: /\bT4\b/i, label: 'T4', weight: 0.15 },
];

/** Table weight for a GPU name; 1 when the GPU is not in the table. */
export function tableWeightFor(name: string): { weight: number; known: boolean } {
  const row = GPU_WEIGHT_TABLE.find((r) => r.pattern.test(name));
  return row ? { weight: row.weight, known: true } : { weight: 1, known: false };
}

/** Parses `nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader,nounits` output. */
export function parseNvidiaSmiList(text: string): DetectedGpu[] {
  const gpus: DetectedGpu[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const parts = line.split(',').map((s) => s.trim());
    if (parts.length < 3) continue;
    const index = Number(parts[0]);
    const memoryMiB = Number(parts[parts.length - 1]);
    const name = parts.slice(1, parts.length - 1).join(',');
    if (!Number.isInteger(index)) continue;
    gpus.push({ index, name, memoryMiB: Number.isFinite(memoryMiB) ? memoryMiB : NaN });
  }
  return gpus;
}

/**
 * Lists NVIDIA GPUs with `nvidia-smi`. Returns [] where the tool is absent
 * (spawn fails with ENOENT), fails, or takes longer than `timeoutMs`.
 */
export function detectNvidiaGpus(options: { command?: string; timeoutMs?: number } = {}): Promise<DetectedGpu[]> {
  const command = options.command ?? 'nvidia-smi';
  return new Promise((resolve) => {
    let out = '';
    let settled = false;
    const done = (gpus: DetectedGpu[]): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(gpus);
    };
    const child = spawn(command, ['--query-gpu=index,name,memory.total', '--format=csv,noheader,nounits'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done([]);
    }, options.timeoutMs ?? 10_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    child.on('error', () => done([])); // ENOENT: no NVIDIA driver tools on this machine
    child.on('close', (code) => done(code === 0 ? parseNvidiaSmiList(out) : []));
  });
}

function cpuDevice(ordinal: number): DeviceSpec {
  const model = cpus()[0]?.model?.trim() ?? 'unknown';
  return {
    id: `cpu:${ordinal}`,
    kind: 'cpu',
    ordinal,
    name: `CPU (${model})`,
    memoryMiB: Math.round(totalmem() / 2 ** 20),
    provider: 'cpu',
    tableWeight: 1,
  };
}

function cudaDevice(gpu: DetectedGpu): DeviceSpec {
  return {
    id: `cuda:${gpu.index}`,
    kind: 'cuda',
    ordinal: gpu.index,
    name: gpu.name,
    memoryMiB: Number.isFinite(gpu.memoryMiB) ? gpu.memoryMiB : undefined,
    provider: 'cuda',
    tableWeight: tableWeightFor(gpu.name).weight,
  };
}

function webgpuDevice(ordinal: number): DeviceSpec {
  return { id: `webgpu:${ordinal}`, kind: 'webgpu', ordinal, name: `WebGPU adapter ${ordinal}`, provider: 'webgpu', tableWeight: 1 };
}

function parseOrdinal(text: string, flag: string, item: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${flag}: '${item}' is not a device (expected e.g. cuda:0, webgpu:0, cpu, cpu:3)`);
  return Number(text);
}

function cudaFor(ordinal: number, gpus: DetectedGpu[], flag: string): DeviceSpec {
  const gpu = gpus.find((g) => g.index === ordinal);
  if (!gpu) {
    const seen = gpus.length === 0 ? 'nvidia-smi reports no GPUs on this machine' : `nvidia-smi reports GPUs ${gpus.map((g) => g.index).join(', ')}`;
    throw new ResourceError(`${flag}: CUDA device ${ordinal} is not available (${seen})`, {
      hint: 'run `virnucpro devices` to list usable devices',
    });
  }
  return cudaDevice(gpu);
}

/**
 * Turns `--devices` / `--gpus` into device specs.
 *   --devices cuda:0,cuda:1 | cuda (all GPUs) | webgpu:0 | cpu (one worker) | cpu:3 (three workers), comma-mixed
 *   --gpus 0,2              CUDA devices by physical ID (IDs are kept: cuda:0, cuda:2)
 * Neither: every GPU nvidia-smi reports, else one CPU worker (the candidates:
 * defaultDevices keeps those whose provider starts).
 * With `limits.cores`, CPU workers beyond the cores are refused before any is
 * described (the command line passes the machine's; tests simulating many
 * devices with CPU workers leave it out).
 */
export function resolveDevices(flags: { devices?: string; gpus?: string }, gpus: DetectedGpu[], limits: { cores?: number } = {}): DeviceSpec[] {
  if (flags.devices !== undefined && flags.gpus !== undefined) {
    throw new UsageError('--devices and --gpus cannot be used together', { hint: '--gpus 0,2 is the same as --devices cuda:0,cuda:2' });
  }
  const specs: DeviceSpec[] = [];
  if (flags.gpus !== undefined) {
    for (const item of splitList(flags.gpus, '--gpus')) specs.push(cudaFor(parseOrdinal(item, '--gpus', item), gpus, '--gpus'));
  } else if (flags.devices !== undefined) {
    let cpuWorkers = 0;
    for (const item of splitList(flags.devices, '--devices')) {
      const [kind, ord, extra] = item.toLowerCase().split(':');
      if (extra !== undefined) throw new UsageError(`--devices: '${item}' is not a device (expected e.g. cuda:0, webgpu:0, cpu, cpu:3)`);
      if (kind === 'cpu') {
        const n = ord === undefined ? 1 : parseOrdinal(ord, '--devices', item);
        if (n < 1) throw new UsageError(`--devices: '${item}' asks for no CPU workers (cpu:N means N workers, N >= 1)`);
        if (limits.cores !== undefined) checkCpuWorkers(cpuWorkers + n, limits.cores);
        for (let i = 0; i < n; i++) specs.push(cpuDevice(cpuWorkers++));
      } else if (kind === 'cuda' || kind === 'gpu') {
        if (ord === undefined) {
          if (gpus.length === 0) throw new ResourceError(`--devices: '${item}' asks for CUDA GPUs but nvidia-smi reports none`);
          for (const g of gpus) specs.push(cudaDevice(g));
        } else {
          specs.push(cudaFor(parseOrdinal(ord, '--devices', item), gpus, '--devices'));
        }
      } else if (kind === 'webgpu') {
        const ordinal = ord === undefined ? 0 : parseOrdinal(ord, '--devices', item);
        if (ordinal !== 0) throw webgpuChoiceRefused(`'${item}' names a WebGPU adapter other than the one ONNX Runtime picks`);
        if (specs.some((s) => s.kind === 'webgpu')) throw webgpuChoiceRefused('more than one WebGPU worker would all run on the same GPU');
        specs.push(webgpuDevice(0));
      } else {
        throw new UsageError(`--devices: unknown device kind '${kind}' in '${item}' (expected cuda, webgpu or cpu)`);
      }
    }
  } else {
    return gpus.length > 0 ? gpus.map(cudaDevice) : [cpuDevice(0)];
  }
  const seen = new Set<string>();
  for (const s of specs) {
    if (seen.has(s.id)) throw new UsageError(`device ${s.id} is listed twice`);
    seen.add(s.id);
  }
  return specs;
}

/**
 * From Node, ONNX Runtime 1.30 lets no one choose the WebGPU adapter (no device option; Dawn picks
 * one), and no environment variable pins a process to one of several identical GPUs reliably: the
 * Vulkan loader's VK_LOADER_DEVICE_SELECT only reorders devices, and it and the newer
 * VK_LOADER_DEVICE_ID_FILTER match vendor:device IDs, which identical GPUs share; Mesa's
 * device-select layer can pick by PCI address (DRI_PRIME=pci-...), but only where Mesa is
 * installed, and nothing reports back which adapter Dawn took, so a wrong pin would go unnoticed.
 * So at most one WebGPU worker, always Dawn's adapter; several GPUs run through CUDA (docs/gpu.md).
 */
function webgpuChoiceRefused(what: string): UsageError {
  return new UsageError(`--devices: ${what}: ONNX Runtime gives Node no way to choose the WebGPU adapter`, {
    hint: 'use one WebGPU worker (--device webgpu); to run on several GPUs use CUDA (--devices cuda:0,cuda:1, or --gpus 0,1); see docs/gpu.md',
  });
}

/** A GPU left out of the default device list, with why and how to enable it. */
export interface SkippedDevice {
  device: DeviceSpec;
  reason: string;
  fix: string;
}

/** Probes the CUDA provider on these GPU ordinals (provider-probe.ts; replaceable in tests). */
export type CudaProbe = (ordinals: readonly number[]) => Promise<ProbeResult[]>;

const probeCuda: CudaProbe = (ordinals) => probeProviders({ cudaOrdinals: ordinals });

/**
 * The devices a run uses when no flag names any: every GPU nvidia-smi lists whose CUDA provider
 * starts (each one probed), else one CPU worker. A GPU nvidia-smi lists is no promise that ONNX
 * Runtime can use it (the CUDA provider is not in the npm package), and a run that picked it
 * anyway would fail on its first shard; the ones left out come back with the reason and the fix.
 */
export async function defaultDevices(gpus: DetectedGpu[], probe: CudaProbe = probeCuda): Promise<{ devices: DeviceSpec[]; skipped: SkippedDevice[] }> {
  if (gpus.length === 0) return { devices: [cpuDevice(0)], skipped: [] };
  const results = await probe(gpus.map((g) => g.index));
  const devices: DeviceSpec[] = [];
  const skipped: SkippedDevice[] = [];
  for (const gpu of gpus) {
    const r = results.find((x) => x.ordinal === gpu.index);
    if (r?.usable) devices.push(cudaDevice(gpu));
    else skipped.push({ device: cudaDevice(gpu), reason: r?.reason ?? 'the CUDA provider was not probed', fix: r?.fix ?? 'run `virnucpro devices`' });
  }
  return { devices: devices.length > 0 ? devices : [cpuDevice(0)], skipped };
}

/** One line per distinct reason: which GPUs are not used, why, how to enable them, and what runs instead. */
export function describeSkipped(skipped: readonly SkippedDevice[], used: readonly DeviceSpec[]): string[] {
  const byReason = new Map<string, SkippedDevice[]>();
  for (const s of skipped) byReason.set(`${s.reason}\n${s.fix}`, [...(byReason.get(`${s.reason}\n${s.fix}`) ?? []), s]);
  return [...byReason.values()].map((group) => {
    const names = group.map((s) => `${s.device.id} (${s.device.name})`).join(', ');
    return `note: not using ${names}: ${group[0].reason}; to use ${group.length > 1 ? 'them' : 'it'}, ${group[0].fix}. Running on ${used.map((d) => d.id).join(', ')}.`;
  });
}

function splitList(text: string, flag: string): string[] {
  const items = text.split(',').map((s) => s.trim());
  if (items.length === 0 || items.some((s) => s === '')) throw new UsageError(`${flag}: '${text}' has an empty entry`);
  return items;
}

/** Parses `--gpu-weights 1,1.5,...` (one positive number per device, in device order). */
export function parseWeights(text: string, deviceCount: number): number[] {
  const items = splitList(text, '--gpu-weights');
  const weights = items.map((s) => Number(s));
  if (weights.some((w, i) => !/^[0-9.eE+-]+$/.test(items[i]) || !Number.isFinite(w) || w <= 0)) {
    throw new UsageError(`--gpu-weights: '${text}' must be positive numbers separated by commas`);
  }
  if (weights.length !== deviceCount) {
    throw new UsageError(`--gpu-weights gives ${weights.length} weights for ${deviceCount} devices`);
  }
  return weights;
}
