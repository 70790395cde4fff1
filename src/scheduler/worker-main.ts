/**
 * Entry point of a worker process (one per device). It waits for the `init`
 * message, imports the handler module once, calls createShardHandler (models
 * load here, once), optionally calibrates, then processes shards one at a time
 * and sends each result back. It exits when told to or when the parent goes
 * away (IPC disconnect), so a crashed parent leaves no orphan workers.
 */
import { pathToFileURL } from 'node:url';
import { isAbsolute } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { VirnucproError } from '../util/errors.js';
import type { FromWorker, ShardHandler, ShardHandlerModule, ToWorker, WorkerError } from './protocol.js';

const STATS_INTERVAL_MS = 1000;

function send(message: FromWorker): void {
  process.send?.(message);
}

/** CPU % of this process since the previous call (100 = one core busy). */
function cpuMeter(): () => number {
  let lastCpu = process.cpuUsage();
  let lastWall = process.hrtime.bigint();
  return () => {
    const cpu = process.cpuUsage(lastCpu);
    const now = process.hrtime.bigint();
    const wallUs = Number(now - lastWall) / 1000;
    lastCpu = process.cpuUsage();
    lastWall = now;
    return wallUs > 0 ? (100 * (cpu.user + cpu.system)) / wallUs : 0;
  };
}

function moduleUrl(spec: string): string {
  return isAbsolute(spec) ? pathToFileURL(spec).href : spec;
}

function errorText(e: unknown): string {
  // Our own errors are already one sentence for the user; others keep their class name (TypeError: ...).
  if (e instanceof VirnucproError) return e.message;
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** The error as the coordinator needs it: text, whether a retry on this device can help, the fix if known. */
function workerError(e: unknown): WorkerError {
  const hint = e instanceof VirnucproError ? e.hint : undefined;
  return { message: errorText(e), kind: classifyError?.(e) ?? 'transient', ...(hint === undefined ? {} : { hint }) };
}

let handler: ShardHandler | null = null;
let classifyError: ShardHandlerModule['classifyError'];
let slowdown = 1;
const cpuPercent = cpuMeter();
// Work runs one message at a time, in arrival order.
let chain: Promise<void> = Promise.resolve();

async function onMessage(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'init': {
      try {
        slowdown = message.slowdown;
        const mod = (await import(moduleUrl(message.handlerModule))) as Partial<ShardHandlerModule>;
        if (typeof mod.createShardHandler !== 'function') {
          throw new Error(`${message.handlerModule} does not export createShardHandler(init, device)`);
        }
        classifyError = mod.classifyError;
        handler = await mod.createShardHandler(message.init, message.device);
        let calibration: number | undefined;
        let calibrationError: string | undefined;
        if (message.calibrate && typeof handler.calibrate === 'function') {
          // A failed calibration costs the run its measured weights (the coordinator falls back to the
          // built-in table and says why), not the device.
          try {
            calibration = (await handler.calibrate()) / slowdown;
          } catch (e) {
            calibrationError = errorText(e);
          }
        }
        send({ type: 'ready', calibration, ...(calibrationError === undefined ? {} : { calibrationError }) });
        setInterval(() => send({ type: 'stats', cpuPercent: cpuPercent(), rssBytes: process.memoryUsage.rss() }), STATS_INTERVAL_MS).unref();
      } catch (e) {
        send({ type: 'init-error', error: workerError(e) });
      }
      return;
    }
    case 'shard': {
      if (!handler) throw new Error('shard received before init');
      const started = performance.now();
      try {
        const result = await handler.handle(message.shard.payload);
        const computeS = (performance.now() - started) / 1000;
        // The testing knob: stretch this device's time without changing what it computed.
        if (slowdown > 1) await sleep(computeS * (slowdown - 1) * 1000);
        send({ type: 'result', shardId: message.shard.id, result, cpuPercent: cpuPercent(), rssBytes: process.memoryUsage.rss() });
      } catch (e) {
        send({ type: 'shard-error', shardId: message.shard.id, error: workerError(e) });
      }
      return;
    }
    case 'shutdown':
      await handler?.close?.();
      process.disconnect?.();
      process.exit(0);
  }
}

// The parent decides what happens on Ctrl-C (it forwards a shutdown); the terminal's SIGINT to the
// whole process group must not kill a worker mid-shard behind the parent's back.
process.on('SIGINT', () => undefined);
process.on('disconnect', () => process.exit(0));
process.on('message', (m: ToWorker) => {
  chain = chain.then(() => onMessage(m)).catch((e: unknown) => {
    process.stderr.write(`virnucpro worker ${process.pid}: ${errorText(e)}\n`);
    process.exit(1);
  });
});
