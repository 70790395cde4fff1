/**
 * Per-device telemetry rows: the coordinator's counters turned into rates
 * over the last interval, joined with GPU figures from nvidia-smi (CUDA
 * devices) or the worker's own CPU % and RSS (CPU devices). The dashboard and
 * gpu_metrics.log both read these rows, so they always agree.
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

/** Source of the coordinator's live state (the Coordinator itself). */
export interface SnapshotSource {
  snapshot(): CoordinatorSnapshot;
}

export class DeviceTelemetry {
  private previous: { at: number; counts: Map<string, { sequences: number; tokens: number }> } | null = null;

  constructor(
    private readonly source: SnapshotSource,
    private readonly gpu?: { latest(index: number): GpuSample | undefined },
  ) {}

  /** Rows for every device; rates cover the time since the previous call. */
  sample(): { snapshot: CoordinatorSnapshot; rows: DeviceMetrics[] } {
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
      const ordinal = Number(d.device.split(':')[1]);
      const g = d.kind === 'cuda' ? this.gpu?.latest(ordinal) : undefined;
      if (g) {
        row.utilizationPct = g.utilizationPct;
        row.memoryUsedMiB = g.memoryUsedMiB;
        row.memoryPct = g.memoryUsedMiB !== undefined && g.memoryTotalMiB ? (100 * g.memoryUsedMiB) / g.memoryTotalMiB : undefined;
        row.temperatureC = g.temperatureC;
        row.powerW = g.powerW;
      } else if (d.kind === 'cpu') {
        row.utilizationPct = d.cpuPercent;
        if (d.rssBytes !== undefined) {
          row.memoryUsedMiB = d.rssBytes / 2 ** 20;
          row.memoryPct = (100 * d.rssBytes) / totalmem();
        }
      }
      return row;
    });
    this.previous = { at, counts: new Map(snapshot.devices.map((d) => [d.device, { sequences: d.sequencesDone, tokens: d.tokensDone }])) };
    return { snapshot, rows };
  }
}
