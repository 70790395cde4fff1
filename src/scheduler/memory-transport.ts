/**
 * An in-memory WorkerTransport: the worker's side is played by whoever holds
 * the MemoryWorker (a test, a simulation), message by message. Nothing runs
 * in another process and nothing happens on its own except what a real
 * worker's channel does by itself: a killed worker exits, and a worker told
 * to shut down exits. With ManualClock (clock.ts) this lets tests drive
 * stalls, restarts, retirements and steal races in an exact order.
 */
import type { FromWorker, ToWorker, WorkerDevice, WorkerLauncher, WorkerTransport } from './protocol.js';

type Waiter = { type: ToWorker['type']; resolve: (m: ToWorker) => void };

export class MemoryWorker implements WorkerTransport {
  readonly pid: number | undefined = undefined;
  /** Every message the coordinator sent, in order. */
  readonly inbox: ToWorker[] = [];
  /** The signal kill() was called with, if it was. */
  killedWith: NodeJS.Signals | null = null;
  private gone = false;
  private readonly listeners: Array<(m: FromWorker) => void> = [];
  private readonly exitListeners: Array<(code: number | null, signal: NodeJS.Signals | null) => void> = [];
  /** How many messages of each type next() has handed out. */
  private readonly taken = new Map<ToWorker['type'], number>();
  private readonly waiters: Waiter[] = [];

  constructor(
    readonly device: WorkerDevice,
    /** Called (asynchronously, as a real channel delivers) with each message the coordinator sends. */
    private readonly behaviour?: (worker: MemoryWorker, message: ToWorker) => void,
  ) {}

  get exited(): boolean {
    return this.gone;
  }

  // ---- the coordinator's side (WorkerTransport)

  send(message: ToWorker): void {
    if (this.gone) return; // as the child transport: a dead worker cannot receive
    this.inbox.push(message);
    for (const w of this.waiters.filter((x) => x.type === message.type)) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      this.take(message.type);
      w.resolve(message);
      break;
    }
    if (message.type === 'shutdown') queueMicrotask(() => this.exit(0, null));
    const behaviour = this.behaviour;
    if (behaviour) queueMicrotask(() => !this.gone && behaviour(this, message));
  }

  onMessage(listener: (message: FromWorker) => void): void {
    this.listeners.push(listener);
  }

  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void {
    this.exitListeners.push(listener);
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.gone) return;
    this.killedWith = signal;
    queueMicrotask(() => this.exit(null, signal));
  }

  // ---- the worker's side

  /** Sends a message to the coordinator as the worker. */
  reply(message: FromWorker): void {
    if (this.gone) throw new Error(`MemoryWorker ${this.device.id}: reply after exit`);
    for (const l of this.listeners) l(message);
  }

  /** The worker ends (crash, kill from outside, normal exit); listeners hear it once. */
  exit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.gone) return;
    this.gone = true;
    for (const l of this.exitListeners) l(code, signal);
  }

  /** The next message of this type not yet handed out: one already received, or the next to arrive. */
  next<T extends ToWorker['type']>(type: T): Promise<Extract<ToWorker, { type: T }>> {
    const seen = this.inbox.filter((m) => m.type === type);
    const n = this.taken.get(type) ?? 0;
    if (n < seen.length) {
      this.take(type);
      return Promise.resolve(seen[n] as Extract<ToWorker, { type: T }>);
    }
    return new Promise((resolve) => this.waiters.push({ type, resolve: resolve as (m: ToWorker) => void }));
  }

  /** Ids of the shards sent to this worker, in order. */
  shardIds(): string[] {
    return this.inbox.flatMap((m) => (m.type === 'shard' ? [m.shard.id] : []));
  }

  private take(type: ToWorker['type']): void {
    this.taken.set(type, (this.taken.get(type) ?? 0) + 1);
  }
}

/** Starts MemoryWorkers and keeps every one it started, so a test can reach each device's current worker. */
export class MemoryLauncher {
  readonly workers: MemoryWorker[] = [];
  private readonly waiters: Array<{ device: string; count: number; resolve: (w: MemoryWorker) => void }> = [];

  constructor(private readonly behaviour?: (worker: MemoryWorker, message: ToWorker) => void) {}

  readonly launch: WorkerLauncher = (device: WorkerDevice): WorkerTransport => {
    const worker = new MemoryWorker(device, this.behaviour);
    this.workers.push(worker);
    const count = this.startedFor(device.id).length;
    for (const w of this.waiters.filter((x) => x.device === device.id && x.count === count)) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve(worker);
    }
    return worker;
  };

  /** Every worker started for a device, oldest first. */
  startedFor(deviceId: string): MemoryWorker[] {
    return this.workers.filter((w) => w.device.id === deviceId);
  }

  /** The device's latest worker. */
  of(deviceId: string): MemoryWorker {
    const all = this.startedFor(deviceId);
    if (all.length === 0) throw new Error(`MemoryLauncher: no worker started for ${deviceId}`);
    return all[all.length - 1];
  }

  /** Resolves with the device's n-th worker (1: the first start, 2: the first restart, ...) once it is started. */
  started(deviceId: string, n = 1): Promise<MemoryWorker> {
    const all = this.startedFor(deviceId);
    if (all.length >= n) return Promise.resolve(all[n - 1]);
    return new Promise((resolve) => this.waiters.push({ device: deviceId, count: n, resolve }));
  }
}
