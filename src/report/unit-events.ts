/**
 * The unit event log, `work/units.jsonl`: one JSON line per shard a device
 * delivered (monitor/unit-log.ts appends them as the run goes; a resumed run
 * appends to the interrupted run's lines). The report draws them as the
 * per-device timeline. Times are epoch milliseconds, so the sessions of a
 * resumed run share one axis.
 */
import { LineReader } from './line-reader.js';

export const UNIT_LOG_NAME = 'units.jsonl';

/** The most units the report draws; a longer log is cut with a note. */
export const MAX_TIMELINE_UNITS = 50_000;

export interface UnitEvent {
  unit: string;
  device: string;
  /** Epoch milliseconds. */
  start: number;
  end: number;
  /** The shard was taken from another device's queue (work stealing). */
  stolen: boolean;
  /** A backup copy of a shard another device was still running. */
  backup: boolean;
}

export interface Timeline {
  /** Epoch milliseconds all times count from. */
  t0: number;
  devices: string[];
  /** [device index, start s, end s, flags (1 stolen, 2 backup), unit]. */
  units: [number, number, number, number, string][];
  total: number;
  truncated: boolean;
}

function isUnitEvent(x: unknown): x is UnitEvent {
  const e = x as UnitEvent;
  return typeof e === 'object' && e !== null && typeof e.unit === 'string' && typeof e.device === 'string' && Number.isFinite(e.start) && Number.isFinite(e.end);
}

/** Reads the log (a torn last line from a killed run is skipped); null when it is missing or empty. */
export async function readTimeline(path: string, limit = MAX_TIMELINE_UNITS): Promise<Timeline | null> {
  let reader: LineReader;
  const events: UnitEvent[] = [];
  let total = 0;
  try {
    reader = new LineReader(path);
    for (let line = await reader.next(); line !== undefined; line = await reader.next()) {
      let e: unknown;
      try {
        e = JSON.parse(line);
      } catch {
        continue;
      }
      if (!isUnitEvent(e)) continue;
      total++;
      if (events.length < limit) events.push(e);
    }
    await reader.close();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  if (events.length === 0) return null;
  const t0 = events.reduce((a, e) => Math.min(a, e.start), Infinity);
  const devices = [...new Set(events.map((e) => e.device))].sort();
  return {
    t0,
    devices,
    units: events.map((e) => [devices.indexOf(e.device), (e.start - t0) / 1000, (e.end - t0) / 1000, (e.stolen ? 1 : 0) | (e.backup ? 2 : 0), e.unit]),
    total,
    truncated: total > events.length,
  };
}
