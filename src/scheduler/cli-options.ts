/**
 * The scheduling flags, shared by every command that runs on devices
 * (`predict`, `devices`): addSchedulerOptions declares them on a commander
 * Command, schedulerSettingsFrom turns the parsed values into devices and
 * coordinator options.
 */
import { Option, type Command } from 'commander';
import { availableParallelism } from 'node:os';
import { UsageError } from '../util/errors.js';
import type { CoordinatorOptions } from './coordinator.js';
import { defaultDevices, describeSkipped, detectNvidiaGpus, parseWeights, resolveDevices, type CudaProbe, type DetectedGpu } from './devices.js';
import { parseStealInterval, STEAL_INTERVAL_S } from './limits.js';
import type { DeviceSpec } from './types.js';

/** The flags as commander parses them. */
export interface SchedulerFlags {
  devices?: string;
  gpus?: string;
  workStealing?: boolean;
  gpuWeighted?: boolean;
  gpuWeights?: string;
  stealInterval?: string;
  showGpuDashboard?: boolean;
  /** commander's negated form: false with --no-gpu-dashboard, true otherwise. */
  gpuDashboard?: boolean;
  /** false with --no-calibrate. */
  calibrate?: boolean;
}

export interface SchedulerSettings {
  devices: DeviceSpec[];
  /** Spread into `new Coordinator({ ...coordinator, handler })`. */
  coordinator: Omit<CoordinatorOptions, 'devices' | 'handler'>;
  /** true/false when asked for; undefined: on with more than one device on a terminal (monitor/session.ts). */
  dashboard: boolean | undefined;
}

export function addDeviceOptions(cmd: Command): Command {
  return cmd
    .option('--devices <list>', 'devices to run on: cuda:0,cuda:1 | cuda | webgpu | cpu | cpu:3 (three CPU workers); default: every GPU whose CUDA provider starts, else the CPU')
    .option('--gpus <ids>', 'CUDA GPUs by physical ID, e.g. 0,2 (same as --devices cuda:0,cuda:2)');
}

export function addSchedulerOptions(cmd: Command): Command {
  return addDeviceOptions(cmd)
    .option('--work-stealing', 'idle devices take queued shards from the most loaded device', false)
    .option('--gpu-weighted', 'assign shards in proportion to device capability (calibration, else the built-in GPU table)', false)
    .option('--gpu-weights <list>', 'explicit capability weights, one per device, e.g. 1,1.5 (implies --gpu-weighted)')
    .option('--steal-interval <seconds>', `seconds between rebalancing checks (${STEAL_INTERVAL_S.min} to ${STEAL_INTERVAL_S.max})`, '3.0')
    .option('--no-calibrate', 'with --gpu-weighted, use the built-in GPU table instead of a calibration run')
    .addOption(new Option('--show-gpu-dashboard', 'show the live device dashboard (default: with more than one device on a terminal)'))
    .addOption(new Option('--no-gpu-dashboard', 'never show the device dashboard'));
}

/**
 * `cores` caps the CPU workers (limits.ts); default: this machine's. Without --devices/--gpus the
 * GPUs whose CUDA provider starts are used (probed), else the CPU; `log` hears which GPUs were left
 * out, why and how to enable them.
 */
export async function schedulerSettingsFrom(
  flags: SchedulerFlags,
  detect: () => Promise<DetectedGpu[]> = () => detectNvidiaGpus(),
  cores: number = availableParallelism(),
  defaults: { probe?: CudaProbe; log?: (line: string) => void } = {},
): Promise<SchedulerSettings> {
  const stealIntervalS = parseStealInterval(flags.stealInterval ?? '3');
  if (flags.showGpuDashboard && flags.gpuDashboard === false) {
    throw new UsageError('--show-gpu-dashboard and --no-gpu-dashboard contradict each other');
  }
  let devices: DeviceSpec[];
  if (flags.devices === undefined && flags.gpus === undefined) {
    const chosen = await defaultDevices(await detect(), defaults.probe);
    for (const line of describeSkipped(chosen.skipped, chosen.devices)) defaults.log?.(line);
    devices = chosen.devices;
  } else {
    devices = resolveDevices({ devices: flags.devices, gpus: flags.gpus }, await detect(), { cores });
  }
  const weights = flags.gpuWeights === undefined ? undefined : parseWeights(flags.gpuWeights, devices.length);
  return {
    devices,
    coordinator: {
      workStealing: flags.workStealing ?? false,
      gpuWeighted: (flags.gpuWeighted ?? false) || weights !== undefined,
      weights,
      calibrate: flags.calibrate ?? true,
      stealIntervalS,
    },
    dashboard: flags.gpuDashboard === false ? false : flags.showGpuDashboard ? true : undefined,
  };
}
