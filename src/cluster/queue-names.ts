/**
 * Names in Redis, in one place. Every key starts with PREFIX.
 *
 * One BullMQ queue per model fingerprint (`models-<first 16 hex of the models' sha256>`):
 * a worker consumes only the queue of the models it holds, so a job never reaches a
 * worker that cannot run it, is never refused after being taken, and never counts an
 * attempt or lands in the failed list for that reason. Coordinators and workers say
 * when they wait for each other with other models (registry.ts), which is how a
 * mismatch is reported.
 *
 * Job ids are `<run>-<unit>`: the run's fingerprint (input checksum and every
 * result-changing parameter, models included) and the unit's index. Adding a job
 * whose id exists is a no-op in BullMQ, so enqueueing is idempotent: a resumed
 * coordinator, or a second one for the same run, finds the jobs already there.
 */
import { sha256Hex } from '../util/hash.js';

export const PREFIX = 'virnucpro';

export function queueNameFor(modelsSha256: string): string {
  return `models-${modelsSha256.slice(0, 16)}`;
}

/** A short, stable id of a run from its fingerprint (any JSON-serialisable value with a stable key order). */
export function runIdFor(fingerprint: unknown): string {
  return sha256Hex(JSON.stringify(fingerprint)).slice(0, 16);
}

export function jobIdFor(runId: string, unit: number): string {
  return `${runId}-${unit}`;
}

/** Where a worker publishes its figures (a key with a time to live: a dead worker disappears). */
export function workerKey(workerId: string): string {
  return `${PREFIX}:workers:${workerId}`;
}

export const WORKER_KEYS = `${PREFIX}:workers:*`;

/** Runs that wait for workers, by run id: which models they need (for the mismatch messages). */
export const RUNS_KEY = `${PREFIX}:runs`;
