/**
 * The coordinator-worker protocol: plain-data messages and the small
 * transport interface they travel over. Nothing here assumes a child process;
 * a later mode can carry the same messages over a broker to remote workers by
 * implementing WorkerTransport.
 */
import type { DeviceSpec, ShardDescriptor } from './types.js';

/** What a worker module exports (see README.md, "Worker side"). */
export interface ShardHandlerModule {
  createShardHandler(init: unknown, device: WorkerDevice): ShardHandler | Promise<ShardHandler>;
  /** Optional: which of its errors no retry on the same device can fix (default: none, every error is transient). */
  classifyError?(error: unknown): ErrorKind;
}

/**
 * How an error bears on retrying. 'permanent': it will recur on this device
 * whatever the shard (execution provider missing, no adapter, an op the
 * provider lacks, a graph it cannot load), so the device is retired at once.
 * 'transient': the shard may succeed on a retry (a crash, out of memory).
 */
export type ErrorKind = 'permanent' | 'transient';

/** An error as it travels from a worker to the coordinator. */
export interface WorkerError {
  message: string;
  kind: ErrorKind;
  /** The fix, when the worker knows it (a VirnucproError's hint). */
  hint?: string;
}

export interface ShardHandler {
  /** Processes one shard; the result must be structured-clonable. */
  handle(payload: unknown): unknown | Promise<unknown>;
  /** Optional: throughput on a fixed probe, in shard-cost units per second (for --gpu-weighted). */
  calibrate?(): number | Promise<number>;
  /** Optional: releases sessions before the worker exits. */
  close?(): void | Promise<void>;
}

/** The device as the handler sees it: the spec plus its position in the run's device list. */
export interface WorkerDevice extends DeviceSpec {
  /** 0-based position in the device list (what VIRNUCPRO_DEVICE_SLOWDOWN refers to). */
  index: number;
}

export type ToWorker =
  | { type: 'init'; device: WorkerDevice; handlerModule: string; init: unknown; calibrate: boolean; slowdown: number }
  | { type: 'shard'; shard: ShardDescriptor }
  | { type: 'shutdown' };

export type FromWorker =
  /** calibration: cost units per second, when asked for and the handler has calibrate(); calibrationError: it threw. */
  | { type: 'ready'; calibration?: number; calibrationError?: string }
  | { type: 'init-error'; error: WorkerError }
  | { type: 'result'; shardId: string; result: unknown; cpuPercent: number; rssBytes: number }
  | { type: 'shard-error'; shardId: string; error: WorkerError }
  | { type: 'stats'; cpuPercent: number; rssBytes: number };

/** One worker, wherever it runs. */
export interface WorkerTransport {
  /** OS process id where there is one (for logs; tests use it to kill a worker). */
  readonly pid: number | undefined;
  send(message: ToWorker): void;
  onMessage(listener: (message: FromWorker) => void): void;
  /** Called once when the worker is gone, for whatever reason. */
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
  /** Ends the worker now (signal delivery or equivalent). */
  kill(signal?: NodeJS.Signals): void;
}

/** Starts the worker for one device. */
export type WorkerLauncher = (device: WorkerDevice) => WorkerTransport;
