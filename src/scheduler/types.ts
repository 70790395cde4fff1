/**
 * Plain data types shared by the coordinator, the worker processes and the
 * pipeline. Everything here is structured-clonable, so the same values can
 * cross a child-process IPC channel today and a message broker later.
 */

/** One unit of work. The pipeline writes the shard's data to disk; the descriptor only points at it. */
export interface ShardDescriptor {
  /** Unique within a run; used for logs, checkpoints and steal events. */
  id: string;
  /** Estimated compute (FLOPs from cost.ts, or any unit consistent across the run's shards). */
  cost: number;
  /** What the worker-side handler needs to find and process the shard (e.g. the shard file path). */
  payload: unknown;
  /** Token count (both models), for per-device figures and tokens/s. Optional. */
  tokens?: number;
  /** Sequence count, for sequences/s. Optional. */
  sequences?: number;
}

export type DeviceKind = 'cuda' | 'webgpu' | 'cpu';

/** A device one worker process runs on. */
export interface DeviceSpec {
  /** Label used everywhere (logs, run.json, dashboard): `cuda:2`, `webgpu:0`, `cpu:1`. */
  id: string;
  kind: DeviceKind;
  /** Physical ordinal for cuda/webgpu (kept as given by `--gpus 0,2`); worker number for cpu. */
  ordinal: number;
  /** Human-readable name, e.g. `NVIDIA H100 80GB HBM3` or `CPU (AMD EPYC ...)`. */
  name: string;
  /** Device memory in MiB where known. */
  memoryMiB?: number;
  /** ONNX Runtime execution provider the worker should use. */
  provider: 'cuda' | 'webgpu' | 'cpu';
  /** Capability weight from the built-in table (1 when unknown). */
  tableWeight: number;
}
