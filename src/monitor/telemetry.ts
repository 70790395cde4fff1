/**
 * Per-device telemetry rows: the coordinator's counters turned into rates
 * over the last interval, joined with GPU figures from nvidia-smi (CUDA
 * devices) or the worker's own CPU % and RSS (CPU devices). The dashboard and
 * gpu_metrics.log both read these rows, so they always agree. A device on
 * another host (queue mode) brings the same figures, measured there with
 * measureDevice and published through Redis (cluster/registry.ts).
 */
import { totalmem } from 'node:os';
import type { CoordinatorSnapshot, DeviceSnapshot } from '../scheduler/coordinator.js';
import type { GpuSample } from './nvidia-smi.js';

export interface DeviceMetrics {
  device: string;
  name: string;
  state: DeviceSnapshot['state'];
  sequencesPerS: number;
  tokensPerS: number;
  utilizationPct?: number;
  memoryPct?: number;
  memoryUsedMiB?: number;
  temperatureC?: number;
  powerW?: number;
  queueDepth: number;
  shardsDone: number;
  stolenIn: number;
  stolenOut: number;
}

/** What is measured of a device itself, beside the coordinator's counters. */
export interface DeviceGauges {
  utilizationPct?: number;
  memoryPct?: number;
  memoryUsedMiB?: number;
  temperatureC?: number;
  powerW?: number;
}

/** A device's live state; one on another host (queue mode) carries the gauges its host measured. */
export type WatchedDevice = DeviceSnapshot & { gauges?: DeviceGauges };

/** Source of the coordinator's live state (the Coordinator itself, or the queue coordinator). */
export interface SnapshotSource {
  snapshot(): Omit<CoordinatorSnapshot, 'devices'> & { devices: WatchedDevice[] };
}

/** The newest nvidia-smi sample per GPU index (NvidiaSmiMonitor). */
export interface GpuSamples {
  latest(index: number): GpuSample | undefined;
}

/**
 * What the monitor measures of a device on this host: nvidia-smi's figures for a CUDA GPU, the device
 * worker process's CPU % and resident memory for a CPU device (of this host's memory), nothing for WebGPU.
 * Unknown figures are left out.
 */
export function measureDevice(d: Pick<DeviceSnapshot, 'device' | 'kind' | 'cpuPercent' | 'rssBytes'>, gpu?: GpuSamples): DeviceGauges {
  const gauges: DeviceGauges = {};
  const g = d.kind === 'cuda' ? gpu?.latest(Number(d.device.split(':')[1])) : undefined;
  if (g) {
    gauges.utilizationPct = g.utilizationPct;
    gauges.memoryUsedMiB = g.memoryUsedMiB;
    gauges.memoryPct = g.memoryUsedMiB !== undefined && g.memoryTotalMiB ? (100 * g.memoryUsedMiB) / g.memoryTotalMiB : undefined;
    gauges.temperatureC = g.temperatureC;
    gauges.powerW = g.powerW;
  } else if (d.kind === 'cpu') {
    gauges.utilizationPct = d.cpuPercent;
    if (d.rssBytes !== undefined) {
      gauges.memoryUsedMiB = d.rssBytes / 2 ** 20;
      gauges.memoryPct = (100 * d.rssBytes) / totalmem();
    }
  }
  for (const k of Object.keys(gauges) as Array<keyof DeviceGauges>) if (gauges[k] === undefined) delete gauges[k];
  return gauges;
}

export class DeviceTelemetry {
  private previous: { at: number; counts: Map<string, { sequences: number; tokens: number }> } | null = null;

  constructor(
    private readonly source: SnapshotSource,
    private readonly gpu?: GpuSamples,
  ) {}

  /** Rows for every device; rates cover the time since the previous call. */
  sample(): { snapshot: ReturnType<SnapshotSource['snapshot']>; rows: DeviceMetrics[] } {
    const snapshot = this.source.snapshot();
    const at = performance.now() / 1000;
    const dt = this.previous ? at - this.previous.at : 0;
    const rows = snapshot.devices.map((d): DeviceMetrics => {
      const before = this.previous?.counts.get(d.device);
      const rate = (now: number, then: number | undefined): number => (dt > 0 && then !== undefined ? (now - then) / dt : 0);
      const row: DeviceMetrics = {
        device: d.device,
        name: d.name,
        state: d.state,
        sequencesPerS: rate(d.sequencesDone, before?.sequences),
        tokensPerS: rate(d.tokensDone, before?.tokens),
        queueDepth: d.queueDepth + (d.inFlight ? 1 : 0),
        shardsDone: d.shardsDone,
        stolenIn: d.stolenIn,
        stolenOut: d.stolenOut,
      };
      return { ...row, ...(d.gauges ?? measureDevice(d, this.gpu)) };
    });
    this.previous = { at, counts: new Map(snapshot.devices.map((d) => [d.device, { sequences: d.sequencesDone, tokens: d.tokensDone }])) };
    return { snapshot, rows };
  }
}
