/**
 * VIRNUCPRO_DEVICE_SLOWDOWN, a testing knob that simulates heterogeneous
 * devices with identical CPU workers: `2=4` makes device index 2 (0-based
 * position in the device list) four times slower, `0=2,1=3` slows two
 * devices. The worker sleeps (factor - 1) x the measured compute time of each
 * shard, and divides its calibration throughput by the factor. Results are
 * unchanged: only timing is affected.
 */
import { UsageError } from '../util/errors.js';

export const SLOWDOWN_ENV = 'VIRNUCPRO_DEVICE_SLOWDOWN';

/** Parses the knob into device index -> factor (>= 1). */
export function parseSlowdown(text: string | undefined): Map<number, number> {
  const factors = new Map<number, number>();
  if (text === undefined || text.trim() === '') return factors;
  for (const item of text.split(',')) {
    const m = /^\s*(\d+)\s*=\s*([0-9]*\.?[0-9]+)\s*$/.exec(item);
    const factor = m ? Number(m[2]) : NaN;
    if (!m || !(factor >= 1)) {
      throw new UsageError(`${SLOWDOWN_ENV}: '${item}' should be INDEX=FACTOR with FACTOR >= 1 (e.g. 2=4 or 0=2,1=3)`);
    }
    factors.set(Number(m[1]), factor);
  }
  return factors;
}

/** Slowdown factor for one device index (1 = none). */
export function slowdownFor(index: number, env: NodeJS.ProcessEnv = process.env): number {
  return parseSlowdown(env[SLOWDOWN_ENV]).get(index) ?? 1;
}
