/**
 * Monitoring for one run, wired in one call: the nvidia-smi stream (when any
 * device is a CUDA GPU), gpu_metrics.log in the output directory, and the
 * dashboard. The pipeline calls startMonitoring after creating the
 * coordinator and stop() when run() settles.
 */
import { join } from 'node:path';
import type { Coordinator } from '../scheduler/coordinator.js';
import type { DeviceSpec } from '../scheduler/types.js';
import { Dashboard } from './dashboard.js';
import { MetricsLog, METRICS_LOG_NAME } from './metrics-log.js';
import { NvidiaSmiMonitor } from './nvidia-smi.js';
import { DeviceTelemetry, type DeviceMetrics } from './telemetry.js';
import type { LiveDashboard } from './live-dashboard.js';
import { trackUnits, unitLogWriter } from './unit-log.js';

export interface MonitoringOptions {
  devices: readonly DeviceSpec[];
  /** Output directory for gpu_metrics.log; no log when absent. */
  outDir?: string;
  /** Show the dashboard (see dashboardDefault). */
  dashboard: boolean;
  /** Dashboard refresh and metrics period in ms (default 2000). */
  intervalMs?: number;
  /** Append each delivered shard here (work/units.jsonl, unit-log.ts); none when absent. */
  unitLogPath?: string;
  /** The live web dashboard (predict --dashboard-port), fed with the same samples and shards. */
  live?: LiveDashboard;
}

/** The dashboard is on by default with more than one device on a terminal. */
export function dashboardDefault(deviceCount: number, stdoutIsTTY = Boolean(process.stdout.isTTY)): boolean {
  return deviceCount > 1 && stdoutIsTTY;
}

export function startMonitoring(coordinator: Coordinator, options: MonitoringOptions): { stop(): void } {
  const intervalMs = options.intervalMs ?? 2000;
  let gpu: NvidiaSmiMonitor | undefined;
  if (options.devices.some((d) => d.kind === 'cuda')) {
    gpu = new NvidiaSmiMonitor({ intervalMs: Math.min(1000, intervalMs) }).start();
    gpu.on('unavailable', (why: string) => coordinator.log(`GPU metrics unavailable: ${why}`));
  }
  const live = options.live;
  const writeUnit = options.unitLogPath ? unitLogWriter(options.unitLogPath, (line) => coordinator.log(line)) : undefined;
  const stopUnits = writeUnit || live ? trackUnits(coordinator, (e) => (writeUnit?.(e), live?.unit(e))) : undefined;
  const stopWatching = live?.watch(coordinator);
  const recorder = options.outDir
    ? recordMetrics(new DeviceTelemetry(coordinator, gpu), {
        path: join(options.outDir, METRICS_LOG_NAME),
        intervalMs,
        warn: (line) => coordinator.log(line),
        onSample: live ? (at, snapshot, rows) => live.sample(at, snapshot, rows) : undefined,
      })
    : undefined;
  let dashboard: Dashboard | undefined;
  if (options.dashboard) {
    dashboard = new Dashboard(coordinator, { intervalMs, gpu });
    dashboard.start();
  }
  // The coordinator's log lines are printed above the table (the coordinator is then created without a log of its own).
  const logAboveTable = (line: string): void => dashboard?.log(line);
  if (dashboard) coordinator.on('log', logAboveTable);
  return {
    stop() {
      recorder?.stop();
      coordinator.off('log', logAboveTable);
      stopUnits?.();
      stopWatching?.();
      dashboard?.stop();
      gpu?.stop();
    },
  };
}

export interface MetricsRecording {
  /** gpu_metrics.log's path (it is created at once, with its header). */
  path: string;
  intervalMs: number;
  /** Hears about the first failed write. */
  warn: (line: string) => void;
  /** Also hears every sample (the live dashboard). */
  onSample?: (at: Date, snapshot: ReturnType<DeviceTelemetry['sample']>['snapshot'], rows: DeviceMetrics[]) => void;
}

/**
 * Appends the telemetry's rows to gpu_metrics.log every interval, and once more when stopped (so a run shorter
 * than an interval has its rows too). The log is a by-product: a full disk or a removed directory stops it with
 * one warning, it never takes the run down (the run's own writes report such errors with their exit codes).
 */
export function recordMetrics(telemetry: DeviceTelemetry, o: MetricsRecording): { stop(): void } {
  const log = new MetricsLog(o.path);
  telemetry.sample(); // sets the baseline for rates
  let recordNow = (): void => {
    try {
      const at = new Date();
      const { snapshot, rows } = telemetry.sample();
      o.onSample?.(at, snapshot, rows);
      log.append(at, rows);
    } catch (e) {
      clearInterval(timer);
      recordNow = () => undefined;
      o.warn(`warning: ${log.path}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the metrics log stops here`);
    }
  };
  const timer = setInterval(() => recordNow(), o.intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      recordNow();
    },
  };
}
