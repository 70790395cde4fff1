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
import type { ShardHandler, WorkerDevice } from '../scheduler/protocol.js';
import { Classifier, DnabertEmbedder, Esm2Embedder } from '../runtime/embedders.js';
import { readShardInput, type ShardResult } from './shard-files.js';
import { failShardPoint } from '../util/test-hold.js';

export interface ShardWorkerInit {
  /** Bundle directories holding each model (the same directory for a full bundle). */
  models: { esm2: string; dnabert: string; classifier: string };
  /** ONNX Runtime intra-op threads per worker (CPU provider). */
  threads?: number;
  batchTokens: number;
  saveEmbeddings: boolean;
  /** Fall back to the CPU, with a logged line, when a GPU provider cannot start. */
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

export async function createShardHandler(init: ShardWorkerInit, device: WorkerDevice): Promise<ShardHandler> {
  // The three model sessions report the same device fallback: say it once.
  const said = new Set<string>();
  const log = (line: string) => {
    if (said.has(line)) return;
    said.add(line);
    process.stderr.write(`[${device.id}] ${line}\n`);
  };
  const opts = {
    device: runtimeDevice(device),
    threads: init.threads,
    batchTokens: init.batchTokens,
    allowCpuFallback: init.allowCpuFallback,
    log,
  };
  const dnabert = await DnabertEmbedder.create(init.models.dnabert, opts);
  const esm2 = await Esm2Embedder.create(init.models.esm2, opts);
  const classifier = await Classifier.create(init.models.classifier, opts);

  async function compute(nucleotides: string[], proteins: string[]): Promise<{ probabilities: Float32Array; features: Float32Array; dim: number }> {
    const dna = await dnabert.embed(nucleotides);
    const esm = await esm2.embed(proteins);
    const { features, dim } = mergeFeatures(dna, esm);
    const probabilities = await classifier.classify(features, nucleotides.length);
    return { probabilities, features, dim };
  }

  return {
    async handle(payload: unknown): Promise<ShardWorkerResult> {
      const p = payload as ShardPayload;
      failShardPoint(p.shard);
      const frames = await readShardInput(p.inputPath);
      const out = await compute(
        frames.map((f) => f.nucleotide),
        frames.map((f) => f.protein),
      );
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
    async close(): Promise<void> {
      await Promise.all([dnabert.close(), esm2.close(), classifier.close()]);
    },
  };
}
