/**
 * The load-balancing dashboard, handed the coordinator explicitly. On a
 * terminal it redraws a table in place (plain ANSI: cursor up, clear line),
 * with a row per device, an overall progress bar with ETA and the last steal
 * events; log lines are printed above the table so it stays intact.
 * Elsewhere (a pipe, a CI log) it prints one summary line per interval.
 */
import { DeviceTelemetry, type DeviceMetrics, type SnapshotSource } from './telemetry.js';
import type { CoordinatorSnapshot } from '../scheduler/coordinator.js';
import type { GpuSample } from './nvidia-smi.js';

export interface DashboardOptions {
  /** Where to draw (default process.stdout). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Redraw in place (default: whether the stream is a terminal). */
  tty?: boolean;
  /** Refresh period (default 2000 ms). */
  intervalMs?: number;
  /** GPU figures (the nvidia-smi monitor), if any. */
  gpu?: { latest(index: number): GpuSample | undefined };
}

const BAR_WIDTH = 30;

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (x: number): string => String(x).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

function progress(snapshot: CoordinatorSnapshot): { fraction: number; etaS: number } {
  const fraction = snapshot.costTotal > 0 ? snapshot.costDone / snapshot.costTotal : snapshot.shardsTotal > 0 ? 1 : 0;
  const rate = snapshot.elapsedS > 0 ? snapshot.costDone / snapshot.elapsedS : 0;
  const etaS = rate > 0 ? (snapshot.costTotal - snapshot.costDone) / rate : Infinity;
  return { fraction, etaS };
}

function opt(x: number | undefined, digits = 0, unit = ''): string {
  return x === undefined || !Number.isFinite(x) ? '-' : `${x.toFixed(digits)}${unit}`;
}

function compact(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(1)}M`;
  if (x >= 1e4) return `${(x / 1e3).toFixed(1)}k`;
  return x.toFixed(x >= 100 ? 0 : 1);
}

const COLUMNS: Array<{ title: string; width: number; align: 'l' | 'r'; value: (m: DeviceMetrics) => string }> = [
  { title: 'device', width: 9, align: 'l', value: (m) => m.device },
  { title: 'name', width: 22, align: 'l', value: (m) => m.name },
  { title: 'state', width: 10, align: 'l', value: (m) => m.state },
  { title: 'util', width: 6, align: 'r', value: (m) => opt(m.utilizationPct, 0, '%') },
  { title: 'mem', width: 6, align: 'r', value: (m) => opt(m.memoryPct, 0, '%') },
  { title: 'temp', width: 5, align: 'r', value: (m) => opt(m.temperatureC, 0, 'C') },
  { title: 'power', width: 6, align: 'r', value: (m) => opt(m.powerW, 0, 'W') },
  { title: 'seq/s', width: 7, align: 'r', value: (m) => compact(m.sequencesPerS) },
  { title: 'tok/s', width: 7, align: 'r', value: (m) => compact(m.tokensPerS) },
  { title: 'queue', width: 5, align: 'r', value: (m) => String(m.queueDepth) },
  { title: 'done', width: 5, align: 'r', value: (m) => String(m.shardsDone) },
  { title: 'in/out', width: 7, align: 'r', value: (m) => `${m.stolenIn}/${m.stolenOut}` },
];

function cellText(text: string, width: number, align: 'l' | 'r'): string {
  const t = text.length > width ? `${text.slice(0, width - 1)}~` : text;
  return align === 'l' ? t.padEnd(width) : t.padStart(width);
}

/** The full table as lines (no ANSI codes), for the terminal view. */
export function renderTable(snapshot: CoordinatorSnapshot, rows: readonly DeviceMetrics[]): string[] {
  const { fraction, etaS } = progress(snapshot);
  const filled = Math.round(fraction * BAR_WIDTH);
  const failed = snapshot.shardsFailed > 0 ? `, ${snapshot.shardsFailed} failed` : '';
  // Queue mode names devices `host:device`: the device column widens to the longest name.
  const columns = COLUMNS.map((c) => (c.title === 'device' ? { ...c, width: Math.max(c.width, ...rows.map((m) => m.device.length)) } : c));
  const lines = [
    `VirNucPro devices: ${rows.length}  elapsed ${formatDuration(snapshot.elapsedS)}  shards ${snapshot.shardsDone}/${snapshot.shardsTotal}${failed}`,
    `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${(100 * fraction).toFixed(1).padStart(5)}%  ETA ${formatDuration(etaS)}`,
    columns.map((c) => cellText(c.title, c.width, c.align)).join(' '),
    ...rows.map((m) => columns.map((c) => cellText(c.value(m), c.width, c.align)).join(' ')),
    'last steals:',
  ];
  if (snapshot.recentSteals.length === 0) lines.push('  (none)');
  for (const s of snapshot.recentSteals) lines.push(`  t=${s.t.toFixed(1)}s shard ${s.shard}: ${s.from} -> ${s.to}`);
  return lines;
}

/** One line for logs that are not terminals. */
export function renderSummaryLine(snapshot: CoordinatorSnapshot, rows: readonly DeviceMetrics[]): string {
  const { fraction, etaS } = progress(snapshot);
  const devices = rows.map((m) => `${m.device} ${m.state} q=${m.queueDepth} done=${m.shardsDone} ${compact(m.sequencesPerS)} seq/s util=${opt(m.utilizationPct, 0, '%')}`);
  return `[${formatDuration(snapshot.elapsedS)}] shards ${snapshot.shardsDone}/${snapshot.shardsTotal} (${(100 * fraction).toFixed(1)}%) ETA ${formatDuration(etaS)} steals ${snapshot.steals} | ${devices.join(' | ')}`;
}

export class Dashboard {
  private readonly stream: NonNullable<DashboardOptions['stream']>;
  private readonly tty: boolean;
  private readonly intervalMs: number;
  private readonly telemetry: DeviceTelemetry;
  private timer: NodeJS.Timeout | null = null;
  /** Lines of the table currently on screen (TTY mode), to move back over them. */
  private drawn = 0;

  constructor(coordinator: SnapshotSource, options: DashboardOptions = {}) {
    this.stream = options.stream ?? process.stdout;
    this.tty = options.tty ?? Boolean(this.stream.isTTY);
    this.intervalMs = options.intervalMs ?? 2000;
    this.telemetry = new DeviceTelemetry(coordinator, options.gpu);
  }

  start(): this {
    this.refresh();
    this.timer = setInterval(() => this.refresh(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  /** Draws the final state and stops refreshing (the last table stays on screen). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.refresh();
    this.drawn = 0;
  }

  /** Prints a log line without breaking the table: above it on a terminal, as-is elsewhere. */
  log(line: string): void {
    if (!this.tty || this.drawn === 0) {
      this.stream.write(`${line}\n`);
      return;
    }
    this.stream.write(`${this.erase()}${line}\n`);
    this.drawn = 0;
    this.refresh();
  }

  refresh(): void {
    const { snapshot, rows } = this.telemetry.sample();
    if (!this.tty) {
      this.stream.write(`${renderSummaryLine(snapshot, rows)}\n`);
      return;
    }
    const width = Math.max(40, (this.stream.columns ?? 120) - 1);
    const lines = renderTable(snapshot, rows).map((l) => l.slice(0, width));
    this.stream.write(`${this.erase()}${lines.map((l) => `\x1b[2K${l}\n`).join('')}`);
    this.drawn = lines.length;
  }

  /** ANSI: back to the first line of the previous frame and clear everything below. */
  private erase(): string {
    return this.drawn > 0 ? `\x1b[${this.drawn}F\x1b[J` : '';
  }
}
