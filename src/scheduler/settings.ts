/**
 * The scheduling settings of a run (`predict`) from plain values: which devices
 * (probed when none are named) and the coordinator's options. The flags that
 * carry these values are declared in src/cli/scheduler-flags.ts.
 */
import { availableParallelism } from 'node:os';
import type { CoordinatorOptions } from './coordinator.js';
import { defaultDevices, describeSkipped, detectNvidiaGpus, parseWeights, resolveDevices, type CudaProbe, type DetectedGpu } from './devices.js';
import { DEFAULT_STEAL_INTERVAL_S } from './limits.js';
import type { DeviceSpec } from './types.js';

/** What the user asked for; everything left out gets the default. */
export interface SchedulerValues {
  /** A device list, e.g. `cuda:0,cuda:1`, `webgpu`, `cpu:3` (devices.ts). */
  devices?: string;
  /** CUDA GPUs by physical ID, e.g. `0,2`. */
  gpus?: string;
  workStealing?: boolean;
  gpuWeighted?: boolean;
  /** Explicit capability weights, one per device, e.g. `1,1.5` (implies gpuWeighted). */
  gpuWeights?: string;
  stealIntervalS?: number;
  /** With gpuWeighted: calibrate on each device (default) rather than use the built-in GPU table. */
  calibrate?: boolean;
  /** true/false when asked for; undefined: on with more than one device on a terminal (monitor/session.ts). */
  dashboard?: boolean;
}

export interface SchedulerSettings {
  devices: DeviceSpec[];
  /** Spread into `new Coordinator({ ...coordinator, handler })`. */
  coordinator: Required<Pick<CoordinatorOptions, 'workStealing' | 'gpuWeighted' | 'calibrate' | 'stealIntervalS'>> & Pick<CoordinatorOptions, 'weights'>;
  dashboard: boolean | undefined;
}

/** Where the settings look for devices; tests pass their own. */
export interface SchedulerEnvironment {
  /** The NVIDIA GPUs present (default: nvidia-smi). */
  detect?: () => Promise<DetectedGpu[]>;
  /** Caps the CPU workers (limits.ts); default: this machine's cores. */
  cores?: number;
  /** Whether each GPU's CUDA provider starts (default: a child process per GPU). */
  probe?: CudaProbe;
  /** Hears which GPUs were left out by default, why, and how to enable them. */
  log?: (line: string) => void;
}

/**
 * Without `devices`/`gpus` the GPUs whose CUDA provider starts are used (probed), else the CPU.
 */
export async function schedulerSettingsFrom(values: SchedulerValues, env: SchedulerEnvironment = {}): Promise<SchedulerSettings> {
  const detect = env.detect ?? (() => detectNvidiaGpus());
  let devices: DeviceSpec[];
  if (values.devices === undefined && values.gpus === undefined) {
    const chosen = await defaultDevices(await detect(), env.probe);
    for (const line of describeSkipped(chosen.skipped, chosen.devices)) env.log?.(line);
    devices = chosen.devices;
  } else {
    devices = resolveDevices({ devices: values.devices, gpus: values.gpus }, await detect(), { cores: env.cores ?? availableParallelism() });
  }
  const weights = values.gpuWeights === undefined ? undefined : parseWeights(values.gpuWeights, devices.length);
  return {
    devices,
    coordinator: {
      workStealing: values.workStealing ?? false,
      gpuWeighted: (values.gpuWeighted ?? false) || weights !== undefined,
      weights,
      calibrate: values.calibrate ?? true,
      stealIntervalS: values.stealIntervalS ?? DEFAULT_STEAL_INTERVAL_S,
    },
    dashboard: values.dashboard,
  };
}
