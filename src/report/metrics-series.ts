/**
 * gpu_metrics.log (monitor/metrics-log.ts) as per-device time series for the
 * report's charts, downsampled while it is read: samples fall into buckets of
 * a fixed width, averaged, and when a device has more than MAX_POINTS buckets
 * the width doubles and neighbours merge. So a log of any length gives at most
 * MAX_POINTS points per device, in memory and in the page.
 */
import { LineReader } from './line-reader.js';

export const MAX_POINTS = 600;

/** The figures charted, by their gpu_metrics.log column names. */
export const METRIC_FIELDS = ['sequences_per_s', 'tokens_per_s', 'utilization_pct', 'memory_pct', 'memory_used_mib'] as const;
type Field = (typeof METRIC_FIELDS)[number];

interface Bucket {
  n: number;
  tSum: number;
  sums: number[];
  counts: number[];
}

export interface DeviceSeries {
  device: string;
  /** Seconds since `t0`. */
  t: number[];
  /** One array per METRIC_FIELDS entry, aligned with t; null where the log had no value. */
  values: Record<Field, (number | null)[]>;
}

export interface MetricsSeries {
  /** Epoch milliseconds of the first sample. */
  t0: number;
  /** Width of one point in seconds (the sampling interval, or more after downsampling). */
  bucketS: number;
  rows: number;
  devices: DeviceSeries[];
}

class DeviceBuckets {
  buckets = new Map<number, Bucket>();

  add(slot: number, t: number, values: (number | null)[]): void {
    let b = this.buckets.get(slot);
    if (!b) {
      b = { n: 0, tSum: 0, sums: values.map(() => 0), counts: values.map(() => 0) };
      this.buckets.set(slot, b);
    }
    b.n++;
    b.tSum += t;
    values.forEach((v, i) => {
      if (v === null) return;
      b!.sums[i] += v;
      b!.counts[i]++;
    });
  }

  /** Halves the resolution: slots 2k and 2k+1 become slot k. */
  halve(): void {
    const merged = new Map<number, Bucket>();
    for (const [slot, b] of this.buckets) {
      const k = Math.floor(slot / 2);
      const m = merged.get(k);
      if (!m) merged.set(k, b);
      else {
        m.n += b.n;
        m.tSum += b.tSum;
        b.sums.forEach((s, i) => {
          m.sums[i] += s;
          m.counts[i] += b.counts[i];
        });
      }
    }
    this.buckets = merged;
  }
}

/** Reads gpu_metrics.log; null when it has no header of ours or no sample. */
export async function readMetricsSeries(path: string, maxPoints = MAX_POINTS): Promise<MetricsSeries | null> {
  const reader = new LineReader(path);
  try {
    const header = (await reader.next())?.split(',') ?? [];
    const tCol = header.indexOf('timestamp');
    const dCol = header.indexOf('device');
    if (tCol < 0 || dCol < 0) return null;
    const cols = METRIC_FIELDS.map((f) => header.indexOf(f));
    const devices = new Map<string, DeviceBuckets>();
    let t0: number | null = null;
    let widthS = 1;
    let rows = 0;
    for (let line = await reader.next(); line !== undefined; line = await reader.next()) {
      const cells = line.split(',');
      const at = Date.parse(cells[tCol]);
      if (!Number.isFinite(at) || cells[dCol] === undefined) continue;
      t0 ??= at;
      const t = (at - t0) / 1000;
      const values = cols.map((c) => (c < 0 || cells[c] === undefined || cells[c] === '' ? null : Number(cells[c])));
      let d = devices.get(cells[dCol]);
      // The key is copied: a slice of the text read would keep all of that text alive.
      if (!d) devices.set(JSON.parse(JSON.stringify(cells[dCol])) as string, (d = new DeviceBuckets()));
      d.add(Math.floor(t / widthS), t, values.map((v) => (v === null || Number.isNaN(v) ? null : v)));
      rows++;
      if (d.buckets.size > maxPoints) {
        widthS *= 2;
        for (const other of devices.values()) other.halve();
      }
    }
    if (t0 === null) return null;
    return {
      t0,
      bucketS: widthS,
      rows,
      devices: [...devices].map(([device, d]) => {
        const slots = [...d.buckets.keys()].sort((a, b) => a - b).map((k) => d.buckets.get(k)!);
        const values = Object.fromEntries(
          METRIC_FIELDS.map((f, i) => [f, slots.map((b) => (b.counts[i] > 0 ? round(b.sums[i] / b.counts[i]) : null))]),
        ) as Record<Field, (number | null)[]>;
        return { device, t: slots.map((b) => round(b.tSum / b.n)), values };
      }),
    };
  } finally {
    await reader.close();
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
