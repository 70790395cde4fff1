/**
 * What travels through Redis for one unit of work: the job's data (coordinator
 * to worker) and its return value (worker to coordinator). Both are JSON; the
 * unit's input and result are strings the pipeline produces and checks (the
 * result is base64 of the self-validating shard result file, so damage in
 * transit is caught by its checksum). Sizes are checked against the run's limit
 * on both sides, so nothing larger than the user allowed is ever stored.
 */
import { UsageError } from '../util/errors.js';

export const UNIT_JOB_VERSION = 1;
export const UNIT_JOB_NAME = 'unit';

/** Default of --queue-max-bytes: a unit's input or result above this is refused. */
export const DEFAULT_QUEUE_MAX_BYTES = 16 * 1024 * 1024;
/** Redis refuses strings above 512 MB; stay well below. */
export const QUEUE_MAX_BYTES_LIMIT = 256 * 1024 * 1024;

export interface UnitJobData {
  v: number;
  /** The run's id (queue-names.ts, runIdFor). */
  run: string;
  /** The unit's index in the run's plan. */
  unit: number;
  /** sha256 of the models the unit must run on (the queue is chosen by it; checked again by the worker). */
  models: string;
  /** What the worker's handler needs, as the pipeline defines it (e.g. the shard input and the batch size). */
  work: unknown;
  /** The run's --queue-max-bytes: the worker refuses to return a larger result. */
  maxBytes: number;
}

export interface UnitJobResult {
  /** The unit's result, as the pipeline encodes it (base64). */
  result: string;
  /** Who computed it: the worker's name (--name, default the host name) and its device. */
  host: string;
  device: string;
  deviceName: string;
  /** Seconds the device spent on it. */
  busyS: number;
  /**
   * When the worker took the unit and when it finished it (ms since the epoch, the worker host's clock: the
   * report's timeline assumes the hosts' clocks agree, as NTP keeps them). Absent from older workers' results.
   */
  startedAt?: number;
  finishedAt?: number;
  /** Tokens and sequences the unit held (for the figures). */
  tokens: number;
  sequences: number;
}

/** Parses --queue-max-bytes (a byte count, or with a K/M/G suffix in binary units). */
export function parseMaxBytes(text: string): number {
  const m = /^\s*(\d+)\s*([kmg]i?b?)?\s*$/i.exec(text);
  const unit = m?.[2]?.[0]?.toLowerCase();
  const n = m ? Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1) : NaN;
  if (!(n >= 1024 && n <= QUEUE_MAX_BYTES_LIMIT)) {
    throw new UsageError(`--queue-max-bytes must be from 1K to ${QUEUE_MAX_BYTES_LIMIT / 1024 ** 2}M bytes, got '${text}'`);
  }
  return n;
}

export function formatBytes(n: number): string {
  return n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}
