/**
 * Who is there, through Redis: every queue worker publishes its devices'
 * figures (state, unit in flight, units, tokens, busy seconds, and the gauges
 * a local run's monitor measures: utilisation, memory, temperature and power
 * from nvidia-smi for a CUDA GPU, the device worker's CPU % and memory for a
 * CPU device) under a key with a time to live, so a worker that dies disappears; every
 * coordinator registers the run it waits for and the models it needs. The
 * coordinator's dashboard reads the workers (rows `host:device`), and both
 * sides read the other to say why they wait (a worker with other models).
 */
import type { Redis } from 'ioredis';
import type { DeviceGauges } from '../monitor/telemetry.js';
import type { DeviceKind } from '../scheduler/types.js';
import { RUNS_KEY, WORKER_KEYS, workerKey } from './queue-names.js';

export interface WorkerFigures {
  /** Unique per worker process and device: `<host>:<device>:<pid>`. */
  id: string;
  host: string;
  device: string;
  deviceName: string;
  kind: DeviceKind;
  pid: number;
  /** sha256 of the models it serves. */
  models: string;
  state: 'idle' | 'busy' | 'retired';
  /** `<run>-<unit>` in flight, and since when (ms since the epoch). */
  job: string | null;
  jobStartedAt: number | null;
  units: number;
  sequences: number;
  tokens: number;
  busyS: number;
  /** As this host's monitor measures them (monitor/telemetry.ts, measureDevice); unknown ones left out. */
  gauges: DeviceGauges;
  /** When published (ms since the epoch). */
  at: number;
}

export interface RunEntry {
  models: string;
  queue: string;
  units: number;
  /** ms since the epoch. */
  at: number;
}

export async function publishWorker(redis: Redis, figures: WorkerFigures, ttlMs: number): Promise<void> {
  await redis.set(workerKey(figures.id), JSON.stringify(figures), 'PX', ttlMs);
}

export async function removeWorker(redis: Redis, id: string): Promise<void> {
  await redis.del(workerKey(id));
}

/** Every worker that published within its time to live. */
export async function readWorkers(redis: Redis): Promise<WorkerFigures[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', WORKER_KEYS, 'COUNT', 200);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  if (keys.length === 0) return [];
  const values = await redis.mget(...keys);
  return values.flatMap((v) => (v === null ? [] : [JSON.parse(v) as WorkerFigures])).sort((a, b) => a.id.localeCompare(b.id));
}

export async function registerRun(redis: Redis, runId: string, entry: RunEntry): Promise<void> {
  await redis.hset(RUNS_KEY, runId, JSON.stringify(entry));
}

export async function unregisterRun(redis: Redis, runId: string): Promise<void> {
  await redis.hdel(RUNS_KEY, runId);
}

export async function readRuns(redis: Redis): Promise<Map<string, RunEntry>> {
  const all = await redis.hgetall(RUNS_KEY);
  return new Map(Object.entries(all).map(([id, v]) => [id, JSON.parse(v) as RunEntry]));
}

/** The short form of a models fingerprint in messages. */
export function shortModels(sha256: string): string {
  return sha256.slice(0, 12);
}
