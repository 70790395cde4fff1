/**
 * The worker side of `predict` (loaded by scheduler/worker-main.ts in one child
 * process per device): opens the three models once, then for each shard reads
 * its frames from the work folder, embeds nucleotides (DNABERT-S) and proteins
 * (ESM-2), concatenates the two means (nucleotide first, as VirNucPro's
 * merge_data does) and classifies. It returns the probabilities (and the merged
 * features with --save-embeddings) to the parent, which writes them.
 *
 * What a shard computes never depends on the device or on which worker runs it;
 * batching inside a shard depends only on the shard's sequences and the token
 * budget, which is part of the run's fingerprint.
 */
import type { ErrorKind, ShardHandler, WorkerDevice } from '../scheduler/protocol.js';
import { Classifier, DnabertEmbedder, Esm2Embedder } from '../runtime/embedders.js';
import { isPermanentDeviceError, ModelsOnDevice } from '../runtime/device-failures.js';
import { readCheckedShardInput, type ShardResult } from './shard-files.js';
import { failShardPoint } from '../util/test-hold.js';

export interface ShardWorkerInit {
  /** Bundle directories holding each model (the same directory for a full bundle). */
  models: { esm2: string; dnabert: string; classifier: string };
  /** ONNX Runtime intra-op threads of this worker's sessions (predict-options.ts, threadsPerWorker). */
  threads: number;
  batchTokens: number;
  saveEmbeddings: boolean;
  /** Fall back to the CPU, with a logged line, when a GPU provider cannot start or cannot run the models. */
  allowCpuFallback: boolean;
  /** Estimated cost (FLOPs) of CALIBRATION_PROBE, so calibrate() reports cost units per second. */
  probeCost: number;
}

/** The fixed calibration probe (for --gpu-weighted): the parent prices it with the same cost model as shards. */
export const CALIBRATION_PROBE = {
  nucleotide: 'ATGGCTAAAGGTCTTGCAGGTACTGGACCAGTTGCATTAGGTGAAACCGGA'.repeat(6).slice(0, 300),
  protein: 'MAKGLAGTGPVALGETG'.repeat(6).slice(0, 100),
  frames: 8,
};


export interface ShardPayload {
  shard: number;
  inputPath: string;
  /** plan.json's checksum of the shard input: a file changed after planning is refused, never computed. */
  inputSha256: string;
}

/** What a worker returns for a shard: exactly the result file's content (shard-files.ts). */
export type ShardWorkerResult = ShardResult;

/** The ONNX Runtime device string for a scheduler device. */
export function runtimeDevice(device: WorkerDevice): string {
  if (device.provider === 'cuda') return `cuda:${device.ordinal}`;
  if (device.provider === 'webgpu') return 'webgpu';
  return 'cpu';
}

/** Concatenates per-frame DNABERT-S and ESM-2 means into one rows x (dna + esm) matrix. */
export function mergeFeatures(dna: readonly Float32Array[], esm: readonly Float32Array[]): { features: Float32Array; dim: number } {
  const rows = dna.length;
  if (esm.length !== rows) throw new Error(`feature count mismatch: ${rows} DNABERT-S vs ${esm.length} ESM-2 rows`);
  const dDim = rows > 0 ? dna[0].length : 0;
  const eDim = rows > 0 ? esm[0].length : 0;
  const dim = dDim + eDim;
  const features = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    features.set(dna[r], r * dim);
    features.set(esm[r], r * dim + dDim);
  }
  return { features, dim };
}

/**
 * The scheduler retires a device at once on a 'permanent' error instead of retrying its shards there:
 * a device that cannot run the models (after the CPU fallback, when allowed) fails every shard alike.
 */
export function classifyError(error: unknown): ErrorKind {
  return isPermanentDeviceError(error) ? 'permanent' : 'transient';
}

interface ShardModels {
  dnabert: DnabertEmbedder;
  esm2: Esm2Embedder;
  classifier: Classifier;
}

/**
 * Finite weights can still give NaN or infinite scores (fp16 activations that overflow, a provider
 * bug). Such a score would print as `nan` and read as non_virus: the shard fails instead, naming
 * the frame, and is retried or reported like any other failure.
 */
export function assertFiniteScores(probabilities: Float32Array, frames: ReadonlyArray<{ id: string }>, deviceId: string): void {
  const classes = probabilities.length / Math.max(1, frames.length);
  for (let i = 0; i < probabilities.length; i++) {
    if (!Number.isFinite(probabilities[i])) {
      throw new Error(
        `the classifier gave a non-finite score (${probabilities[i]}) for frame ${frames[Math.floor(i / classes)]?.id} on ${deviceId}; ` +
          'with --precision fp16 try fp32, or run on another device',
      );
    }
  }
}

export async function createShardHandler(init: ShardWorkerInit, device: WorkerDevice): Promise<ShardHandler> {
  // The three model sessions report the same device fallback: say it once.
  const said = new Set<string>();
  const log = (line: string) => {
    if (said.has(line)) return;
    said.add(line);
    process.stderr.write(`[${device.id}] ${line}\n`);
  };
  const open = async (runtime: string): Promise<ShardModels> => {
    const opts = { device: runtime, threads: init.threads, batchTokens: init.batchTokens, allowCpuFallback: init.allowCpuFallback, log };
    const dnabert = await DnabertEmbedder.create(init.models.dnabert, opts);
    const esm2 = await Esm2Embedder.create(init.models.esm2, opts);
    const classifier = await Classifier.create(init.models.classifier, opts);
    return { dnabert, esm2, classifier };
  };
  // Some provider gaps only show when a session first runs (an op the provider lacks); ModelsOnDevice
  // turns those into the CPU fallback when allowed, else into an error naming the fix.
  const models = await ModelsOnDevice.open(runtimeDevice(device), {
    open,
    close: async (m) => void (await Promise.all([m.dnabert.close(), m.esm2.close(), m.classifier.close()])),
    deviceOf: (m) => [m.dnabert.device, m.esm2.device, m.classifier.device].find((d) => d !== 'cpu') ?? 'cpu',
    allowCpuFallback: init.allowCpuFallback,
    log,
  });

  function compute(nucleotides: string[], proteins: string[]): Promise<{ probabilities: Float32Array; features: Float32Array; dim: number }> {
    return models.run(async ({ dnabert, esm2, classifier }) => {
      const dna = await dnabert.embed(nucleotides);
      const esm = await esm2.embed(proteins);
      const { features, dim } = mergeFeatures(dna, esm);
      const probabilities = await classifier.classify(features, nucleotides.length);
      return { probabilities, features, dim };
    });
  }

  return {
    async handle(payload: unknown): Promise<ShardWorkerResult> {
      const p = payload as ShardPayload;
      failShardPoint(p.shard);
      const input = await readCheckedShardInput(p.inputPath, p.inputSha256);
      if (!input.ok) throw new Error(`${p.inputPath}: shard input ${input.reason}; rerun with --resume to plan it again`);
      const frames = input.frames;
      const out = await compute(
        frames.map((f) => f.nucleotide),
        frames.map((f) => f.protein),
      );
      assertFiniteScores(out.probabilities, frames, device.id);
      return {
        shard: p.shard,
        frames: frames.length,
        classes: out.probabilities.length / Math.max(1, frames.length),
        probabilities: out.probabilities,
        featureDim: init.saveEmbeddings ? out.dim : 0,
        features: init.saveEmbeddings ? out.features : undefined,
      };
    },
    /** Cost units (FLOPs) per second on the fixed probe, comparable across devices. */
    async calibrate(): Promise<number> {
      const { nucleotide, protein, frames } = CALIBRATION_PROBE;
      await compute([nucleotide], [protein]); // warm-up: first runs allocate
      const t0 = performance.now();
      await compute(Array(frames).fill(nucleotide), Array(frames).fill(protein));
      const seconds = (performance.now() - t0) / 1000;
      return init.probeCost / Math.max(seconds, 1e-6);
    },
    close: () => models.close(),
  };
}
