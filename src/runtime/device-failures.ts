/**
 * Device failures: which ONNX Runtime errors no retry on the same device can
 * fix, and the move to the CPU when the user allows it (`--allow-cpu-fallback`).
 *
 * ORT reports a device that cannot run our graphs in two ways: when a session
 * is created (provider library missing, no WebGPU adapter: openSession in
 * session.ts handles those) and only when a session first runs (an op input the
 * provider lacks, e.g. "input `key_padding_mask` not implemented for webgpu").
 * Both recur on every batch; retrying only wastes the run.
 */
import { ResourceError, VirnucproError } from '../util/errors.js';

/** A device that cannot run this work; the message names ORT's error, the hint the fix. */
export class DeviceUnusableError extends ResourceError {}

/** ORT's (and Dawn's) wordings for errors that recur whatever the input, as seen with onnxruntime-node 1.30. */
const PERMANENT: readonly RegExp[] = [
  /Failed to load shared library/i, // provider libraries not installed (CUDA, TensorRT)
  /No supported adapters/i, // WebGPU: no usable GPU / Vulkan driver
  /not implemented for \w+/i, // an op (or one of its inputs) the provider lacks
  /NOT_IMPLEMENTED/, // ORT's status code for the same
  /Could not find an implementation for/i, // no kernel for an op on any provider of the session
  /\bUnsupported\b/i, // a data type, opset or IR version this runtime cannot run
  /INVALID_GRAPH|INVALID_PROTOBUF|This is an invalid model/i, // a graph ORT refuses to load
];

/**
 * Whether `e` will recur on the device that raised it whatever the input.
 * Our own errors (bad input, a bad shard file) are about the data, never the device.
 */
export function isPermanentDeviceError(e: unknown): boolean {
  if (e instanceof DeviceUnusableError) return true;
  if (e instanceof VirnucproError) return false;
  const message = e instanceof Error ? e.message : String(e);
  return PERMANENT.some((p) => p.test(message));
}

/**
 * The part of an ORT error a user can read: its first line, without the C++
 * source location and failed condition ORT puts first
 * ("/onnxruntime_src/.../webgpu_context.cc:136 ...<lambda()> cond was false. Failed to get a WebGPU adapter: ...").
 */
export function ortErrorSummary(e: unknown): string {
  const first = (e instanceof Error ? e.message : String(e)).split('\n')[0];
  const summary = first.replace(/^\S+\.(?:cc|cpp|h):\d+\s.*?\bwas false\.\s*/, '').replace(/^\S+\.(?:cc|cpp|h):\d+\s+/, '');
  return summary.length > 300 ? `${summary.slice(0, 297)}...` : summary;
}

/** The error for a device that failed with a permanent error while running (not while starting: see session.ts). */
export function deviceUnusable(device: string, cause: unknown): DeviceUnusableError {
  return new DeviceUnusableError(`device ${device} cannot run this model: ${ortErrorSummary(cause)}`, {
    hint:
      device === 'cpu'
        ? "ONNX Runtime's CPU provider cannot run this graph; rebuild it (virnucpro models prepare, or a fresh --cache-dir) and report it if that does not help"
        : 'rerun with --allow-cpu-fallback to use the CPU instead, or choose the CPU with --device cpu',
    cause,
  });
}

export interface ModelsOnDeviceOptions<M> {
  /** Opens the models on a device ('cpu', 'cuda:N', 'webgpu'). */
  open(device: string): Promise<M>;
  close(models: M): Promise<void>;
  /** The device the models really run on ('cpu' once openSession has fallen back). */
  deviceOf(models: M): string;
  /** Move to the CPU when the device fails with a permanent error; otherwise that error ends the work. */
  allowCpuFallback: boolean;
  log?: (line: string) => void;
}

/**
 * Models opened on one device, moved to the CPU (once, with a warning) when
 * that device fails with a permanent error and fallback is allowed. Without
 * fallback, a permanent error becomes a DeviceUnusableError naming the fix.
 */
export class ModelsOnDevice<M> {
  /** null once closed (also between closing the device's models and opening the CPU's). */
  private models: M | null;

  private constructor(
    models: M,
    private readonly options: ModelsOnDeviceOptions<M>,
  ) {
    this.models = models;
  }

  static async open<M>(device: string, options: ModelsOnDeviceOptions<M>): Promise<ModelsOnDevice<M>> {
    return new ModelsOnDevice(await options.open(device), options);
  }

  /** The models now in use. */
  get current(): M {
    if (this.models === null) throw new Error('ModelsOnDevice: used after close()');
    return this.models;
  }

  get device(): string {
    return this.options.deviceOf(this.current);
  }

  /** Runs `work` on the models; on a permanent device error, on the CPU models instead (when allowed). */
  async run<T>(work: (models: M) => Promise<T>): Promise<T> {
    try {
      return await work(this.current);
    } catch (e) {
      if (!isPermanentDeviceError(e)) throw e;
      const device = this.device;
      if (device === 'cpu' || !this.options.allowCpuFallback) throw e instanceof DeviceUnusableError ? e : deviceUnusable(device, e);
      this.options.log?.(`warning: device ${device} cannot run this model (${ortErrorSummary(e)}); falling back to cpu`);
      await this.close();
      this.models = await this.options.open('cpu');
      return await work(this.models);
    }
  }

  async close(): Promise<void> {
    const models = this.models;
    this.models = null;
    if (models !== null) await this.options.close(models);
  }
}
