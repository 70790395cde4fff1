/**
 * Worker supervision: one worker per device, started (models load there,
 * calibration when asked), restarted when it dies (MAX_WORKER_RESTARTS times,
 * then given up), retired, and stopped at the end of the run. It knows nothing
 * of shards: what a worker's messages or its death mean for the work is the
 * coordinator's business (SupervisorHooks).
 */
import type { Clock } from './clock.js';
import type { Calibration } from './policy.js';
import type { FromWorker, WorkerDevice, WorkerError, WorkerLauncher, WorkerTransport } from './protocol.js';
import { slowdownFor } from './slowdown.js';

/** Times a device's worker is restarted after dying before the device is given up. */
export const MAX_WORKER_RESTARTS = 2;
/** Seconds a worker gets to exit after being told to, before it is killed. */
const SHUTDOWN_GRACE_S = 3;

/** How starting a worker ended. */
export type StartOutcome = { calibration: Calibration } | { error: WorkerError };

/** The messages about work, which the supervisor passes on. */
export type WorkMessage = Extract<FromWorker, { type: 'result' | 'shard-error' | 'stats' }>;

/** A worker that died while supervised. */
export interface WorkerLoss {
  /** "exited with code 1", "killed by SIGKILL". */
  how: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The restart about to be made (1 to MAX_WORKER_RESTARTS), or null: none left, the device gets no new worker. */
  restart: number | null;
}

export interface SupervisorHooks {
  /** A message about work from a device's current worker. */
  message(device: number, message: WorkMessage): void;
  /** A device's worker died; a restart (if any) follows this call. */
  died(device: number, loss: WorkerLoss): void;
  /** A restarted worker is ready for work. */
  restarted(device: number): void;
  /** A restarted worker did not start. */
  restartFailed(device: number, error: WorkerError): void;
}

export interface SupervisorOptions {
  devices: readonly WorkerDevice[];
  launcher: WorkerLauncher;
  /** Worker-side module exporting createShardHandler(init, device), and its init object. */
  handler: { module: string; init: unknown };
  /** Where VIRNUCPRO_DEVICE_SLOWDOWN is read. */
  env: NodeJS.ProcessEnv;
  clock: Clock;
  hooks: SupervisorHooks;
}

interface Slot {
  worker: WorkerTransport | null;
  /** Set while a worker starts: hears how the start ended. */
  starting: ((outcome: StartOutcome) => void) | null;
  ready: boolean;
  restarts: number;
  retired: boolean;
}

export class WorkerSupervisor {
  private readonly slots: Slot[];
  /** Deaths are reported and restarted only while supervising (not before the run starts, not while it ends). */
  private supervising = false;
  private readonly killOnExit = (): void => this.killAll('SIGKILL');

  constructor(private readonly o: SupervisorOptions) {
    this.slots = o.devices.map(() => ({ worker: null, starting: null, ready: false, restarts: 0, retired: false }));
  }

  /** Starts every device's worker; resolves with how each start ended. Call dispose() when the run is over. */
  startAll(calibrate: boolean): Promise<StartOutcome[]> {
    // A parent that exits by any path takes its workers with it.
    process.on('exit', this.killOnExit);
    return Promise.all(this.slots.map((_, i) => this.launch(i, calibrate)));
  }

  /** From now on a dying worker is reported and restarted. */
  supervise(): void {
    this.supervising = true;
  }

  /** From now on deaths are neither reported nor restarted (the run is ending). */
  stopSupervising(): void {
    this.supervising = false;
  }

  /** The device's worker is up and ready for work. */
  isReady(device: number): boolean {
    return this.slots[device].ready && !this.slots[device].retired;
  }

  pid(device: number): number | undefined {
    return this.slots[device].worker?.pid;
  }

  /** Sends a message to the device's worker (dropped when it has none: its exit handling requeues the work). */
  send(device: number, message: Parameters<WorkerTransport['send']>[0]): void {
    this.slots[device].worker?.send(message);
  }

  /** Takes the device out for good: its worker is killed and never restarted. */
  retire(device: number): void {
    const slot = this.slots[device];
    slot.retired = true;
    slot.ready = false;
    slot.worker?.kill('SIGKILL');
  }

  killAll(signal: NodeJS.Signals): void {
    for (const slot of this.slots) slot.worker?.kill(signal);
  }

  /**
   * Stops every worker and waits for them to exit: politely (a 'shutdown' message, after which the worker
   * closes its sessions) where `politely(device)` says so, else with SIGTERM; SIGKILL after a grace period.
   */
  async shutdown(politely: (device: number) => boolean): Promise<void> {
    this.supervising = false;
    const exits: Promise<void>[] = [];
    this.slots.forEach((slot, i) => {
      const w = slot.worker;
      if (!w) return;
      exits.push(
        new Promise<void>((resolve) => {
          const cancel = this.o.clock.after(SHUTDOWN_GRACE_S, () => {
            w.kill('SIGKILL');
            resolve();
          });
          w.onExit(() => {
            cancel();
            resolve();
          });
        }),
      );
      if (politely(i)) w.send({ type: 'shutdown' });
      else w.kill('SIGTERM');
    });
    await Promise.all(exits);
    for (const slot of this.slots) {
      slot.worker = null;
      slot.ready = false;
    }
  }

  /** Removes the process exit hook; call once the run is over. */
  dispose(): void {
    process.off('exit', this.killOnExit);
  }

  private launch(device: number, calibrate: boolean): Promise<StartOutcome> {
    const slot = this.slots[device];
    const spec = this.o.devices[device];
    const worker = this.o.launcher(spec);
    slot.worker = worker;
    slot.ready = false;
    const outcome = new Promise<StartOutcome>((resolve) => (slot.starting = resolve));
    worker.onMessage((m) => this.onMessage(device, worker, m));
    worker.onExit((code, signal) => this.onExit(device, worker, code, signal));
    worker.send({
      type: 'init',
      device: spec,
      handlerModule: this.o.handler.module,
      init: this.o.handler.init,
      calibrate,
      slowdown: slowdownFor(spec.index, this.o.env),
    });
    return outcome;
  }

  private onMessage(device: number, worker: WorkerTransport, m: FromWorker): void {
    const slot = this.slots[device];
    if (slot.worker !== worker) return; // from a worker already replaced
    switch (m.type) {
      case 'ready':
        slot.ready = true;
        this.started(slot, { calibration: calibrationOf(m) });
        return;
      case 'init-error':
        this.started(slot, { error: m.error });
        worker.kill('SIGKILL');
        return;
      default:
        this.o.hooks.message(device, m);
    }
  }

  private onExit(device: number, worker: WorkerTransport, code: number | null, signal: NodeJS.Signals | null): void {
    const slot = this.slots[device];
    if (slot.worker !== worker) return;
    slot.worker = null;
    slot.ready = false;
    const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
    if (slot.starting) {
      this.started(slot, { error: { message: `worker ${how} while starting`, kind: 'transient' } });
      return;
    }
    if (!this.supervising || slot.retired) return;
    const restart = slot.restarts < MAX_WORKER_RESTARTS ? slot.restarts + 1 : null;
    this.o.hooks.died(device, { how, code, signal, restart });
    // The hook may have ended the run or retired the device.
    if (restart === null || !this.supervising || slot.retired) return;
    slot.restarts = restart;
    void this.launch(device, false).then((outcome) => {
      if (!this.supervising || slot.retired) return;
      if ('error' in outcome) this.o.hooks.restartFailed(device, outcome.error);
      else this.o.hooks.restarted(device);
    });
  }

  private started(slot: Slot, outcome: StartOutcome): void {
    const resolve = slot.starting;
    slot.starting = null;
    resolve?.(outcome);
  }
}

function calibrationOf(m: Extract<FromWorker, { type: 'ready' }>): Calibration {
  if (m.calibrationError !== undefined) return { failed: m.calibrationError };
  return m.calibration === undefined ? { unsupported: true } : { rate: m.calibration };
}
