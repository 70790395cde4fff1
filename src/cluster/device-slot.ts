/**
 * One device of a queue worker: the same device worker process a local run
 * uses (scheduler/worker-main.ts through the child transport), fed one unit at
 * a time. The compute runs in that child, never on the event loop that renews
 * the job's lock in Redis, so a long unit cannot starve the renewal.
 *
 * The child is started on the first unit and restarted when it died or when a
 * unit needs another init (a run with another batch size, which changes results).
 */
import { childProcessLauncher } from '../scheduler/child-transport.js';
import type { FromWorker, WorkerDevice, WorkerError, WorkerLauncher, WorkerTransport } from '../scheduler/protocol.js';
import type { ShardDescriptor } from '../scheduler/types.js';

/** The device cannot run the work at all (provider missing, graph refused): it takes no more units. */
export class DeviceUnusableError extends Error {
  constructor(
    readonly device: string,
    readonly error: WorkerError,
  ) {
    super(`${device} cannot run the models: ${error.message}`);
  }
}

type Pending = { resolve: (result: unknown) => void; reject: (e: Error) => void };

export class DeviceSlot {
  private worker: WorkerTransport | null = null;
  private initKey = '';
  private ready: Promise<void> | null = null;
  private pending: Pending | null = null;
  /** The child's latest figures (worker-main sends them every second); unknown while no child runs. */
  cpuPercent: number | undefined;
  rssBytes: number | undefined;

  constructor(
    readonly device: WorkerDevice,
    private readonly handlerModule: string,
    /** VIRNUCPRO_DEVICE_SLOWDOWN's factor for this device (scheduler/slowdown.ts). */
    private readonly slowdown: number,
    private readonly launcher: WorkerLauncher = childProcessLauncher(),
  ) {}

  /** Runs one unit on the device; rejects with the worker's error, or when the child dies. */
  async run(init: unknown, shard: ShardDescriptor): Promise<unknown> {
    const key = JSON.stringify(init);
    if (this.worker && key !== this.initKey) await this.stop();
    if (!this.worker) this.start(init, key);
    await this.ready;
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker!.send({ type: 'shard', shard });
    });
  }

  private start(init: unknown, key: string): void {
    const worker = this.launcher(this.device);
    this.worker = worker;
    this.initKey = key;
    this.ready = new Promise<void>((resolve, reject) => {
      worker.onMessage((m: FromWorker) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'init-error') reject(m.error.kind === 'permanent' ? new DeviceUnusableError(this.device.id, m.error) : new Error(`${this.device.id}: worker did not start: ${m.error.message}`));
        else this.onWork(m);
      });
      worker.onExit((code, signal) => {
        if (this.worker === worker) this.forget();
        const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
        reject(new Error(`${this.device.id}: worker process ${how} while starting`));
        this.settle((p) => p.reject(new Error(`${this.device.id}: worker process ${how} during the unit`)));
      });
    });
    // A failed start is reported to the unit that waits for it; a later unit starts a new child.
    this.ready.catch(() => {
      if (this.worker === worker) {
        worker.kill('SIGKILL');
        this.forget();
      }
    });
    worker.send({ type: 'init', device: this.device, handlerModule: this.handlerModule, init, calibrate: false, slowdown: this.slowdown });
  }

  private onWork(m: Exclude<FromWorker, { type: 'ready' | 'init-error' }>): void {
    if (m.type === 'stats' || m.type === 'result') {
      this.cpuPercent = m.cpuPercent;
      this.rssBytes = m.rssBytes;
    }
    if (m.type === 'result') this.settle((p) => p.resolve(m.result));
    else if (m.type === 'shard-error') {
      const error = m.error.kind === 'permanent' ? new DeviceUnusableError(this.device.id, m.error) : new Error(m.error.message);
      this.settle((p) => p.reject(error));
    }
  }

  private settle(how: (p: Pending) => void): void {
    const p = this.pending;
    this.pending = null;
    if (p) how(p);
  }

  /** No child any more: nothing to measure until the next one starts. */
  private forget(): void {
    this.worker = null;
    this.cpuPercent = undefined;
    this.rssBytes = undefined;
  }

  /** Stops the child (shutdown message, then SIGKILL if it lingers). */
  async stop(graceMs = 3000): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.forget();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        worker.kill('SIGKILL');
        resolve();
      }, graceMs);
      worker.onExit(() => {
        clearTimeout(timer);
        resolve();
      });
      worker.send({ type: 'shutdown' });
    });
  }
}
