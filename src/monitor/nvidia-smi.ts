/**
 * GPU metrics from one long-running `nvidia-smi --query-gpu=... -lms N`
 * process, read as a line stream (no maintained NVML binding exists on npm).
 * Where nvidia-smi is absent the spawn fails with ENOENT: the monitor reports
 * itself unavailable once and the rest of the run carries on without GPU figures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { EventEmitter } from 'node:events';

export const GPU_QUERY_FIELDS = ['index', 'name', 'utilization.gpu', 'memory.used', 'memory.total', 'temperature.gpu', 'power.draw'] as const;

export interface GpuSample {
  index: number;
  name: string;
  utilizationPct?: number;
  memoryUsedMiB?: number;
  memoryTotalMiB?: number;
  temperatureC?: number;
  powerW?: number;
}

function num(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const x = Number(text.trim());
  return text.trim() === '' || !Number.isFinite(x) ? undefined : x; // "[N/A]", "[Not Supported]"
}

/** Parses one `--format=csv,noheader,nounits` line of GPU_QUERY_FIELDS; null for anything else. */
export function parseGpuLine(line: string): GpuSample | null {
  const parts = line.split(',').map((s) => s.trim());
  if (parts.length < GPU_QUERY_FIELDS.length) return null;
  // A GPU name could contain a comma: the numeric fields are the last five.
  const tail = parts.slice(-5);
  const index = Number(parts[0]);
  if (!/^\d+$/.test(parts[0])) return null;
  return {
    index,
    name: parts.slice(1, parts.length - 5).join(','),
    utilizationPct: num(tail[0]),
    memoryUsedMiB: num(tail[1]),
    memoryTotalMiB: num(tail[2]),
    temperatureC: num(tail[3]),
    powerW: num(tail[4]),
  };
}

export interface NvidiaSmiMonitorOptions {
  /** Sampling period in milliseconds (default 1000). */
  intervalMs?: number;
}

/**
 * Emits 'sample' (GpuSample) for every line and 'unavailable' (reason) once if
 * nvidia-smi cannot be started or stops on its own. latest() gives the newest
 * sample per GPU index.
 */
export class NvidiaSmiMonitor extends EventEmitter {
  private child: ChildProcess | null = null;
  private readonly samples = new Map<number, GpuSample>();
  private stopped = false;
  available = true;

  constructor(private readonly options: NvidiaSmiMonitorOptions = {}) {
    super();
  }

  start(): this {
    const args = [`--query-gpu=${GPU_QUERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits', `-lms`, String(this.options.intervalMs ?? 1000)];
    const child = spawn('nvidia-smi', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    this.child = child;
    child.on('error', (err: NodeJS.ErrnoException) => this.unavailable(err.code === 'ENOENT' ? 'nvidia-smi not found' : err.message));
    child.on('exit', (code, signal) => {
      if (!this.stopped) this.unavailable(`nvidia-smi ended (${signal ?? `code ${code}`})`);
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const s = parseGpuLine(line);
      if (!s) return;
      this.samples.set(s.index, s);
      this.emit('sample', s);
    });
    return this;
  }

  latest(index: number): GpuSample | undefined {
    return this.samples.get(index);
  }

  stop(): void {
    this.stopped = true;
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    this.child = null;
  }

  private unavailable(reason: string): void {
    if (!this.available) return;
    this.available = false;
    this.emit('unavailable', reason);
  }
}
