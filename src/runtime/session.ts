/**
 * ONNX Runtime sessions: parse the user's `--device`, pick execution
 * providers, and open a model BY PATH (ORT memory-maps its external data).
 *
 * ORT does not fall back when a provider is missing: `['cuda', 'cpu']`
 * throws at session creation ("Failed to load shared library"). We detect
 * that, and either fail with a ResourceError that says how to get the
 * provider, or, when the caller allows it, fall back to CPU and log it.
 */
import * as ort from 'onnxruntime-node';
import { availableParallelism } from 'node:os';
import { UsageError } from '../util/errors.js';
import { DeviceUnusableError, ortErrorSummary } from './device-failures.js';
import { cudaInstallCommand } from './provider-probe.js';

// We report provider failures ourselves (ResourceError / logged fallback); ORT's own
// error-level log lines for them would only repeat that on stderr.
ort.env.logLevel = 'fatal';

export type DeviceKind = 'cpu' | 'cuda' | 'webgpu';

export interface Device {
  kind: DeviceKind;
  /** GPU ordinal for cuda:N. */
  index: number;
}

/** Parses `cpu`, `cuda`, `cuda:N`, `webgpu`. */
export function parseDevice(spec: string): Device {
  const s = spec.trim().toLowerCase();
  if (s === 'cpu') return { kind: 'cpu', index: 0 };
  if (s === 'webgpu') return { kind: 'webgpu', index: 0 };
  const m = /^cuda(?::(\d+))?$/.exec(s);
  if (m) return { kind: 'cuda', index: m[1] === undefined ? 0 : Number(m[1]) };
  throw new UsageError(`unknown device '${spec}'`, { hint: 'use cpu, cuda, cuda:N (N = GPU index) or webgpu' });
}

export function deviceName(d: Device): string {
  return d.kind === 'cuda' ? `cuda:${d.index}` : d.kind;
}

export interface SessionOptions {
  device?: Device;
  /** Intra-op threads for the CPU provider (default: all cores). */
  threads?: number;
  /** Fall back to CPU (with a logged line) when the device's provider cannot start. */
  allowCpuFallback?: boolean;
  log?: (line: string) => void;
}

export interface OpenedSession {
  session: ort.InferenceSession;
  /** The device actually used (cpu after a fallback). */
  device: Device;
}

function providersFor(d: Device): ort.InferenceSession.ExecutionProviderConfig[] {
  switch (d.kind) {
    case 'cpu':
      return ['cpu'];
    case 'cuda':
      return [{ name: 'cuda', deviceId: d.index }, 'cpu'];
    case 'webgpu':
      return ['webgpu', 'cpu'];
  }
}

function sessionOptions(d: Device, threads: number | undefined): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: providersFor(d),
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads ?? availableParallelism(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // Fatal only: errors reach us as exceptions, which we report once with a hint.
    logSeverityLevel: 4,
  };
}

/** Opens `modelPath` on the requested device. */
export async function openSession(modelPath: string, options: SessionOptions = {}): Promise<OpenedSession> {
  const device = options.device ?? { kind: 'cpu', index: 0 };
  try {
    return { session: await ort.InferenceSession.create(modelPath, sessionOptions(device, options.threads)), device };
  } catch (e) {
    if (device.kind === 'cpu' || !isProviderFailure(e)) throw e;
    const why = ortErrorSummary(e);
    if (!options.allowCpuFallback) {
      throw new DeviceUnusableError(`device ${deviceName(device)} is not usable: ${why}`, {
        hint:
          device.kind === 'cuda'
            ? `install the CUDA provider libraries (${cudaInstallCommand()}, see README "GPUs"), or run with --device cpu or --allow-cpu-fallback`
            : 'WebGPU needs a Vulkan-capable GPU and driver; run with --device cpu or --allow-cpu-fallback',
        cause: e,
      });
    }
    options.log?.(`warning: device ${deviceName(device)} is not usable (${why}); falling back to cpu`);
    const cpu: Device = { kind: 'cpu', index: 0 };
    return { session: await ort.InferenceSession.create(modelPath, sessionOptions(cpu, options.threads)), device: cpu };
  }
}

/** Errors ORT raises when an execution provider cannot start (library missing, no adapter, bad device id). */
function isProviderFailure(e: unknown): boolean {
  const m = String((e as Error)?.message ?? e);
  return /shared library|No supported adapters|adapter|CUDA|cuda|provider|webgpu|WebGPU|device/i.test(m);
}
