/**
 * The scheduling flags, shared by every command that runs on devices
 * (`predict`, `devices`): declared on a commander Command here and turned into
 * the plain values src/scheduler/settings.ts takes.
 */
import { Option, type Command } from 'commander';
import { DEFAULT_STEAL_INTERVAL_S, parseStealInterval, STEAL_INTERVAL_S } from '../scheduler/limits.js';
import type { SchedulerValues } from '../scheduler/settings.js';
import { UsageError } from '../util/errors.js';

/** The flags as commander parses them. */
export interface SchedulerFlags {
  devices?: string;
  gpus?: string;
  workStealing?: boolean;
  gpuWeighted?: boolean;
  gpuWeights?: string;
  stealInterval?: number;
  showGpuDashboard?: boolean;
  /** commander's negated form: false with --no-gpu-dashboard, true otherwise. */
  gpuDashboard?: boolean;
  /** false with --no-calibrate. */
  calibrate?: boolean;
}

export function addDeviceOptions(cmd: Command): Command {
  return cmd
    .option('--devices <list>', 'devices to run on: cuda:0,cuda:1 | cuda | webgpu | cpu | cpu:3 (three CPU workers); default: every GPU whose CUDA provider starts, else the CPU')
    .option('--gpus <ids>', 'CUDA GPUs by physical ID, e.g. 0,2 (same as --devices cuda:0,cuda:2)');
}

export function addSchedulerOptions(cmd: Command): Command {
  return addDeviceOptions(cmd)
    .option(
      '--work-stealing',
      "a device that runs dry takes the last queued shard of the device expected to finish last, when it would finish that shard sooner (speeds as measured during the run, a slow device's from the shard it still runs); when no shard is queued it runs a copy of a shard a much slower device still runs, and the first copy to finish is used",
      false,
    )
    .option('--gpu-weighted', 'assign shards in proportion to device speed: calibrated on each device, else (--no-calibrate, or a failed calibration) the built-in GPU table', false)
    .option('--gpu-weights <list>', 'explicit capability weights, one per device, e.g. 1,1.5 (implies --gpu-weighted)')
    .option(
      '--steal-interval <seconds>',
      `with --work-stealing, seconds between checks of idle devices for work to take or copy; a device that runs dry also checks at once (${STEAL_INTERVAL_S.min} to ${STEAL_INTERVAL_S.max})`,
      parseStealInterval,
      DEFAULT_STEAL_INTERVAL_S,
    )
    .option('--no-calibrate', 'with --gpu-weighted, use the built-in GPU table instead of a calibration run')
    .addOption(new Option('--show-gpu-dashboard', 'show the live device dashboard (default: with more than one device on a terminal)'))
    .addOption(new Option('--no-gpu-dashboard', 'never show the device dashboard'));
}

/** The parsed flags as plain values; `devices` replaces --devices (predict's --device is its shorthand). */
export function schedulerValuesFrom(flags: SchedulerFlags, devices: string | undefined = flags.devices): SchedulerValues {
  if (flags.showGpuDashboard && flags.gpuDashboard === false) {
    throw new UsageError('--show-gpu-dashboard and --no-gpu-dashboard contradict each other');
  }
  return {
    devices,
    gpus: flags.gpus,
    workStealing: flags.workStealing,
    gpuWeighted: flags.gpuWeighted,
    gpuWeights: flags.gpuWeights,
    stealIntervalS: flags.stealInterval,
    calibrate: flags.calibrate,
    dashboard: flags.gpuDashboard === false ? false : flags.showGpuDashboard ? true : undefined,
  };
}
