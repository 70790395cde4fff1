/**
 * gpu_metrics.log: one CSV row per device per interval, with a header, in the
 * run's output directory. Appended as the run goes (it is a log, not a
 * result), so a crash leaves every row written so far.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DeviceMetrics } from './telemetry.js';

export const METRICS_LOG_NAME = 'gpu_metrics.log';

export const METRICS_HEADER = [
  'timestamp',
  'device',
  'sequences_per_s',
  'tokens_per_s',
  'utilization_pct',
  'memory_pct',
  'memory_used_mib',
  'temperature_c',
  'power_w',
  'queue_depth',
  'state',
].join(',');

function cell(x: number | undefined, digits: number): string {
  return x === undefined || !Number.isFinite(x) ? '' : x.toFixed(digits);
}

/** One CSV line (no newline) for a device at a time. Unknown figures are empty cells. */
export function metricsCsvRow(timestamp: Date, m: DeviceMetrics): string {
  return [
    timestamp.toISOString(),
    m.device,
    cell(m.sequencesPerS, 2),
    cell(m.tokensPerS, 1),
    cell(m.utilizationPct, 1),
    cell(m.memoryPct, 1),
    cell(m.memoryUsedMiB, 0),
    cell(m.temperatureC, 0),
    cell(m.powerW, 1),
    String(m.queueDepth),
    m.state,
  ].join(',');
}

export class MetricsLog {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${METRICS_HEADER}\n`);
  }

  append(timestamp: Date, rows: readonly DeviceMetrics[]): void {
    if (rows.length === 0) return;
    appendFileSync(this.path, rows.map((r) => `${metricsCsvRow(timestamp, r)}\n`).join(''));
  }
}
