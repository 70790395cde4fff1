/**
 * Time as the coordinator sees it: a monotonic clock in seconds and the two
 * kinds of timer it uses. Runs use the system clock; tests and simulations use
 * ManualClock, which moves only when told to, so stalls, steals and backup
 * tasks happen at exactly the moments a test chooses (no sleeps, no margins).
 */

export interface Clock {
  /** Seconds on a monotonic clock (only differences mean anything). */
  now(): number;
  /** Calls fn every `seconds` until the returned function is called. */
  every(seconds: number, fn: () => void): () => void;
  /** Calls fn once after `seconds` unless the returned function is called first. */
  after(seconds: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => performance.now() / 1000,
  every(seconds, fn) {
    const t = setInterval(fn, seconds * 1000);
    return () => clearInterval(t);
  },
  after(seconds, fn) {
    const t = setTimeout(fn, seconds * 1000);
    return () => clearTimeout(t);
  },
};

interface Timer {
  due: number;
  /** Repeat period, for every(). */
  period?: number;
  fn: () => void;
  /** Creation order: timers due at the same moment fire in the order they were set. */
  seq: number;
}

/** A clock that stands still until advance() moves it, firing the timers that fall due on the way, in order. */
export class ManualClock implements Clock {
  private t = 0;
  private seq = 0;
  private readonly timers = new Set<Timer>();

  now(): number {
    return this.t;
  }

  every(seconds: number, fn: () => void): () => void {
    if (!(seconds > 0)) throw new RangeError(`ManualClock.every: period must be positive, got ${seconds}`);
    return this.add({ due: this.t + seconds, period: seconds, fn, seq: this.seq++ });
  }

  after(seconds: number, fn: () => void): () => void {
    return this.add({ due: this.t + Math.max(0, seconds), fn, seq: this.seq++ });
  }

  /** Moves the clock forward by `seconds`, firing every timer that falls due, at its own moment. */
  advance(seconds: number): void {
    this.advanceTo(this.t + seconds);
  }

  /** Moves the clock to `target` (never backwards), firing due timers in time order. */
  advanceTo(target: number): void {
    for (;;) {
      const next = this.nextTimer();
      if (!next || next.due > target) break;
      this.t = Math.max(this.t, next.due);
      if (next.period !== undefined) next.due += next.period;
      else this.timers.delete(next);
      next.fn();
    }
    this.t = Math.max(this.t, target);
  }

  /** When the next timer falls due (undefined: none set). */
  nextDue(): number | undefined {
    return this.nextTimer()?.due;
  }

  private nextTimer(): Timer | undefined {
    let best: Timer | undefined;
    for (const timer of this.timers) if (!best || timer.due < best.due || (timer.due === best.due && timer.seq < best.seq)) best = timer;
    return best;
  }

  private add(timer: Timer): () => void {
    this.timers.add(timer);
    return () => void this.timers.delete(timer);
  }
}
