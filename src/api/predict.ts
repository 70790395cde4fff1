/**
 * `predict()` of the library: the options of `virnucpro predict` as one object
 * with the CLI's defaults, checked the way the CLI checks its flags, and the
 * run's summary (from the run.json it writes) as the result. The work itself is
 * src/pipeline/predict.ts, the same code the CLI runs.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fastaStem } from '../io/paths.js';
import { RUN_JSON } from '../pipeline/outdir.js';
import { runPredict } from '../pipeline/predict.js';
import { PREDICT_DEFAULTS } from '../pipeline/predict-options.js';
import { batchTokensFlag, shardTokensFlag, threadsFlag } from '../scheduler/limits.js';
import { schedulerSettingsFrom } from '../scheduler/settings.js';
import { UsageError } from '../util/errors.js';

export type Precision = 'fp32' | 'fp16';

/** Which models to run: exactly one of `bundle`, the three raw files, or `demo`. */
export interface ModelSource {
  /** A prepared bundle directory (`virnucpro models prepare`). */
  bundle?: string;
  /** ESM-2 weights: a fair-esm .pt file or a Hugging Face directory. */
  esm?: string;
  /** DNABERT-S Hugging Face directory (config.json, tokenizer.json, weights). */
  dnabert?: string;
  /** VirNucPro classifier (300_model.pth or 500_model.pth). */
  classifier?: string;
  /** The built-in tiny demo models (random weights: the scores mean nothing). */
  demo?: boolean;
}

export interface PredictParams {
  /** FASTA or FASTQ file, told apart by content (plain, gzip, bzip2, xz or zstd). */
  input: string;
  /** Chunk length the classifier was trained for: 300 or 500. */
  expectedLength: number;
  models: ModelSource;
  /** Output directory; default `<input stem>_virnucpro` in the current directory. */
  outDir?: string;
  /** Devices: `cpu`, `cpu:N`, `cuda`, `cuda:0,cuda:1`, `webgpu`; default every GPU whose CUDA provider starts, else the CPU. */
  devices?: string;
  /** ONNX Runtime threads per worker; default the cores shared among the CPU workers. */
  threads?: number;
  /** Padded tokens per model batch, or 'auto' (from the GPUs' memory). Default 4096. */
  batchTokens?: number | 'auto';
  /** Tokens per shard of work, or 'auto' (growing with the input). Default 'auto'. */
  shardTokens?: number | 'auto';
  /** A record is called virus when its highest virus score exceeds this. Default 0.5. */
  minScore?: number;
  /** Precision of graphs built from raw weights (bundles carry their own). Default 'fp32'. */
  precision?: Precision;
  /** Model and graph cache; default $VIRNUCPRO_CACHE or ~/.cache/virnucpro. */
  cacheDir?: string;
  /** Continue an interrupted run in `outDir`. */
  resume?: boolean;
  /** Replace a previous run's outputs in `outDir`. */
  force?: boolean;
  /** Also write the original's intermediate FASTA files. */
  keepIntermediate?: boolean;
  /** Also write the merged features per shard (embeddings/). */
  saveEmbeddings?: boolean;
  /** Run on the CPU, with a warning, when a GPU provider cannot start or run the models. */
  allowCpuFallback?: boolean;
  /** Run VirNucPro's published classifier with another expectedLength than it was trained for. */
  allowLengthMismatch?: boolean;
  /** Work stealing between devices (see README, "GPUs"). */
  workStealing?: boolean;
  /** Assign work in proportion to device speed. */
  gpuWeighted?: boolean;
  /** Receives the run's log lines (the CLI's stderr); default: none. Warnings come here too. */
  log?: (line: string) => void;
  /** Draw progress bars on stderr; default false. */
  progress?: boolean;
}

export interface PredictResult {
  /** The output directory, absolute. */
  outDir: string;
  /** The output files and directories written, absolute paths (run.json's `outputs`). */
  outputs: string[];
  /** run.json, absolute path. */
  runJson: string;
  counts: {
    records: number;
    chunks: number;
    /** Stop-free reading frames scored. */
    frames: number;
    /** Records called virus (highest virus score above minScore). */
    virusRecords: number;
    /** Chunks whose verdict is virus. */
    virusChunks: number;
  };
  /** true when the run used the demo models: its scores mean nothing. */
  demoModels: boolean;
  wallSeconds: number;
  /** The whole run record as written to run.json (fields documented in the README). */
  run: Record<string, unknown>;
}

/**
 * Runs `virnucpro predict` and returns its summary. Throws UsageError or InputError (bad
 * options or input, exitCode 2), ResourceError (memory, devices, disk: exitCode 4), or a
 * VirnucproError with exitCode 3 when some shards failed (resume with `resume: true`).
 */
export async function predict(params: PredictParams): Promise<PredictResult> {
  checkParams(params);
  const log = params.log ?? (() => {});
  const scheduler = await schedulerSettingsFrom(
    { devices: params.devices, workStealing: params.workStealing, gpuWeighted: params.gpuWeighted, dashboard: false },
    { log },
  );
  // The same default as the CLI's; named here so that the result can say where run.json is.
  const outDir = params.outDir ?? `${fastaStem(params.input)}_virnucpro`;
  await runPredict({
    input: params.input,
    expectedLength: params.expectedLength,
    outDir,
    models: {
      ...params.models,
      precision: params.precision ?? PREDICT_DEFAULTS.precision,
      cacheDir: params.cacheDir,
      allowLengthMismatch: params.allowLengthMismatch,
    },
    threads: params.threads,
    batchTokens: params.batchTokens,
    shardTokens: params.shardTokens,
    minScore: params.minScore,
    resume: params.resume,
    force: params.force,
    keepIntermediate: params.keepIntermediate,
    saveEmbeddings: params.saveEmbeddings,
    allowCpuFallback: params.allowCpuFallback,
    scheduler,
    quiet: !params.progress,
    log,
  });
  return resultOf(resolve(outDir));
}

/** The checks the CLI's flag parsers make, with the option's name in the message. */
function checkParams(p: PredictParams): void {
  if (typeof p.input !== 'string' || p.input === '') throw new UsageError('predict: `input` must be the path of a FASTA or FASTQ file');
  if (!Number.isInteger(p.expectedLength) || p.expectedLength < 1) {
    throw new UsageError(`predict: \`expectedLength\` must be a positive integer (300 or 500 for VirNucPro's classifiers), got ${String(p.expectedLength)}`);
  }
  if (p.models === null || typeof p.models !== 'object') {
    throw new UsageError('predict: `models` is missing', { hint: 'give { bundle }, { esm, dnabert, classifier } or { demo: true }' });
  }
  if (p.minScore !== undefined && !(p.minScore >= 0 && p.minScore <= 1)) {
    throw new UsageError(`predict: \`minScore\` must be a number between 0 and 1, got ${String(p.minScore)}`);
  }
  if (p.precision !== undefined && p.precision !== 'fp32' && p.precision !== 'fp16') {
    throw new UsageError(`predict: \`precision\` must be 'fp32' or 'fp16', got ${String(p.precision)}`);
  }
  if (p.threads !== undefined) threadsFlag('threads')(String(p.threads));
  if (p.batchTokens !== undefined && p.batchTokens !== 'auto') batchTokensFlag()(String(p.batchTokens));
  if (p.shardTokens !== undefined && p.shardTokens !== 'auto') shardTokensFlag()(String(p.shardTokens));
  if (p.resume && p.force) throw new UsageError('predict: `resume` and `force` contradict each other');
}

interface RunRecord {
  outputs?: string[];
  counts?: Partial<Record<'records' | 'chunks' | 'frames' | 'virus_records' | 'virus_chunks', number>>;
  demo_models?: boolean;
  wall_s?: number;
}

async function resultOf(outDir: string): Promise<PredictResult> {
  const runJson = join(outDir, RUN_JSON);
  const run = JSON.parse(await readFile(runJson, 'utf8')) as Record<string, unknown>;
  const r = run as RunRecord;
  const c = r.counts ?? {};
  return {
    outDir,
    outputs: (r.outputs ?? []).map((f) => join(outDir, f)),
    runJson,
    counts: {
      records: c.records ?? 0,
      chunks: c.chunks ?? 0,
      frames: c.frames ?? 0,
      virusRecords: c.virus_records ?? 0,
      virusChunks: c.virus_chunks ?? 0,
    },
    demoModels: r.demo_models === true,
    wallSeconds: r.wall_s ?? 0,
    run,
  };
}
