/**
 * What each device ran and when: the coordinator's dispatch, steal and result
 * events turned into one UnitEvent per delivered shard (report/unit-events.ts
 * defines it), appended to `work/units.jsonl` as the run goes and handed to
 * any other listener (the live dashboard). Appending keeps the events of an
 * interrupted run when it is resumed; a fresh plan empties work/ and with it
 * the log. Like gpu_metrics.log it is a by-product: a write that fails stops
 * the log with one warning and never the run.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Coordinator } from '../scheduler/coordinator.js';
import type { UnitEvent } from '../report/unit-events.js';

export type UnitListener = (event: UnitEvent) => void;

/** Calls `listener` for every shard a device delivers; returns the function that stops listening. */
export function trackUnits(coordinator: Coordinator, listener: UnitListener): () => void {
  const started = new Map<string, { at: number; backup: boolean }>();
  const stolen = new Set<string>();
  const key = (shard: string, device: string) => `${shard}\u0000${device}`;
  const onDispatch = (e: { shard: string; device: string; backup: boolean }): void => {
    started.set(key(e.shard, e.device), { at: Date.now(), backup: e.backup });
  };
  const onSteal = (e: { shard: string }): void => {
    stolen.add(e.shard);
  };
  const onResult = (e: { shard: string; device: string }): void => {
    const k = key(e.shard, e.device);
    const start = started.get(k);
    started.delete(k);
    if (!start) return;
    listener({ unit: e.shard, device: e.device, start: start.at, end: Date.now(), stolen: stolen.has(e.shard), backup: start.backup });
  };
  coordinator.on('dispatch', onDispatch);
  coordinator.on('steal', onSteal);
  coordinator.on('result', onResult);
  return () => {
    coordinator.off('dispatch', onDispatch);
    coordinator.off('steal', onSteal);
    coordinator.off('result', onResult);
  };
}

/** A listener that appends each event as one JSON line to `path`; `warn` hears about the first failed write. */
export function unitLogWriter(path: string, warn: (line: string) => void): UnitListener {
  let broken = false;
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch {
    // The first append reports it.
  }
  return (event) => {
    if (broken) return;
    try {
      appendFileSync(path, `${JSON.stringify(event)}\n`);
    } catch (e) {
      broken = true;
      warn(`warning: ${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the unit log stops here`);
    }
  };
}
