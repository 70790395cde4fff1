/**
 * Progress for long commands. On a terminal: a cli-progress bar with
 * percentage, rate and ETA. Otherwise (pipes, CI, log files): one plain line
 * on stderr every few seconds, so logs stay readable. `quiet` prints nothing.
 *
 * Public API:
 * - `createProgress(options): Progress`
 * - `Progress.update(done, detail?)` — `done` in the unit of `total`
 *   (bytes or items); `detail` is a short free text (e.g. "1200 records").
 * - `Progress.stop()` — clears the bar; the caller prints its own summary.
 * - `formatBytes(n)`, `formatDuration(seconds)` — shared formatting.
 */
import cliProgress from 'cli-progress';

export interface ProgressOptions {
  /** Shown first, e.g. 'translate'. */
  label: string;
  /** Expected end value (bytes or items); unknown totals show no percentage or ETA. */
  total?: number;
  unit?: 'bytes' | 'items';
  quiet?: boolean;
  /** Where to draw; default process.stderr. */
  stream?: NodeJS.WriteStream;
  /** Seconds between plain lines when not on a terminal. Default 5. */
  plainIntervalS?: number;
}

export interface Progress {
  update(done: number, detail?: string): void;
  stop(): void;
}

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function amount(n: number, unit: 'bytes' | 'items'): string {
  return unit === 'bytes' ? formatBytes(n) : String(Math.round(n));
}

function rate(n: number, seconds: number, unit: 'bytes' | 'items'): string {
  const r = seconds > 0 ? n / seconds : 0;
  return unit === 'bytes' ? `${formatBytes(r)}/s` : `${r.toFixed(r < 10 ? 1 : 0)}/s`;
}

class QuietProgress implements Progress {
  update(): void {}
  stop(): void {}
}

/** Plain periodic lines: `label: 12.0 MB / 100.0 MB (12%), 40.0 MB/s, ETA 2s, detail`. */
class LineProgress implements Progress {
  private readonly started = Date.now();
  private lastPrint = this.started;
  constructor(private readonly o: Required<Pick<ProgressOptions, 'label' | 'unit' | 'plainIntervalS'>> & ProgressOptions, private readonly stream: NodeJS.WriteStream) {}
  update(done: number, detail?: string): void {
    const now = Date.now();
    if (now - this.lastPrint < this.o.plainIntervalS * 1000) return;
    this.lastPrint = now;
    const secs = (now - this.started) / 1000;
    const parts = [amount(done, this.o.unit)];
    if (this.o.total) {
      parts[0] += ` / ${amount(this.o.total, this.o.unit)} (${Math.floor((100 * done) / this.o.total)}%)`;
    }
    parts.push(rate(done, secs, this.o.unit));
    if (this.o.total && done > 0) parts.push(`ETA ${formatDuration(((this.o.total - done) * secs) / done)}`);
    if (detail) parts.push(detail);
    this.stream.write(`${this.o.label}: ${parts.join(', ')}\n`);
  }
  stop(): void {}
}

class BarProgress implements Progress {
  private readonly bar: cliProgress.SingleBar;
  private readonly started = Date.now();
  constructor(private readonly o: Required<Pick<ProgressOptions, 'label' | 'unit'>> & ProgressOptions, stream: NodeJS.WriteStream) {
    const known = o.total !== undefined && o.total > 0;
    this.bar = new cliProgress.SingleBar(
      {
        stream,
        format: known ? `${o.label} [{bar}] {percentage}% | {amount} | {rate} | ETA {eta_formatted} {detail}` : `${o.label} {amount} | {rate} {detail}`,
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(known ? o.total! : 1, 0, { amount: '', rate: '', detail: '' });
  }
  update(done: number, detail?: string): void {
    const secs = (Date.now() - this.started) / 1000;
    this.bar.update(Math.min(done, this.o.total ?? done), {
      amount: amount(done, this.o.unit),
      rate: rate(done, secs, this.o.unit),
      detail: detail ?? '',
    });
  }
  stop(): void {
    this.bar.stop();
  }
}

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const o = { unit: 'items' as const, plainIntervalS: 5, ...options };
  if (o.quiet) return new QuietProgress();
  return stream.isTTY ? new BarProgress(o, stream) : new LineProgress(o, stream);
}
