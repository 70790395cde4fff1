/**
 * `embed()` and `demoModels()` of the library: the options of `virnucpro embed`
 * as one object with the CLI's defaults; the work is src/pipeline/embed.ts.
 */
import { ensureDemoModels } from '../demo/demo-models.js';
import { runEmbed, type EmbedModel, type EmbedSummary } from '../pipeline/embed.js';
import { batchTokensFlag, threadsFlag } from '../scheduler/limits.js';
import { UsageError } from '../util/errors.js';
import type { Precision } from './predict.js';

export type { EmbedModel };

export interface EmbedParams {
  /** 'esm2' (proteins) or 'dnabert-s' (nucleotides). */
  model: EmbedModel;
  /** ESM-2: fair-esm .pt or Hugging Face directory; DNABERT-S: model directory; or a prepared bundle. */
  weights: string;
  /** FASTA or FASTQ file, told apart by content (plain, gzip, bzip2, xz or zstd). */
  input: string;
  /** OUT.jsonl, OUT.npy or OUT.safetensors (the extension chooses the format). */
  output: string;
  /** cpu, cuda, cuda:N or webgpu. Default 'cpu'. */
  device?: string;
  /** Padded tokens per batch. Default 4096. */
  batchTokens?: number;
  /** ONNX Runtime threads; default all cores. */
  threads?: number;
  /** Precision of graphs built from raw weights (bundles carry their own). Default 'fp32'. */
  precision?: Precision;
  /** Run on the CPU, with a warning, when the device cannot start or run the model. */
  allowCpuFallback?: boolean;
  /** Where graphs built from raw weights are kept; default $VIRNUCPRO_CACHE or ~/.cache/virnucpro. */
  cacheDir?: string;
  /** Receives the log lines; default: none. */
  log?: (line: string) => void;
  /** Draw a progress bar on stderr; default false. */
  progress?: boolean;
}

export type EmbedResult = EmbedSummary;

/** Embeds every record of `input` into `output`, pooled as VirNucPro does. Errors as predict(). */
export async function embed(params: EmbedParams): Promise<EmbedResult> {
  if (params.model !== 'esm2' && params.model !== 'dnabert-s') {
    throw new UsageError(`embed: unknown model '${String(params.model)}'`, { hint: "use 'esm2' or 'dnabert-s'" });
  }
  if (params.precision !== undefined && params.precision !== 'fp32' && params.precision !== 'fp16') {
    throw new UsageError(`embed: \`precision\` must be 'fp32' or 'fp16', got ${String(params.precision)}`);
  }
  if (params.threads !== undefined) threadsFlag('threads')(String(params.threads));
  if (params.batchTokens !== undefined) batchTokensFlag()(String(params.batchTokens));
  return runEmbed({
    model: params.model,
    weights: params.weights,
    input: params.input,
    output: params.output,
    device: params.device ?? 'cpu',
    batchTokens: params.batchTokens,
    threads: params.threads,
    precision: params.precision ?? 'fp32',
    allowCpuFallback: params.allowCpuFallback,
    cacheDir: params.cacheDir,
    quiet: !params.progress,
    log: params.log ?? (() => {}),
  });
}

export interface DemoModelPaths {
  /** ESM-2 checkpoint: `models.esm`, or `weights` of embed({ model: 'esm2' }). */
  esm: string;
  /** DNABERT-S directory: `models.dnabert`, or `weights` of embed({ model: 'dnabert-s' }). */
  dnabert: string;
  /** Classifier: `models.classifier`. */
  classifier: string;
}

/**
 * The tiny demo models (random weights: their scores mean nothing), written into the cache
 * on first use; for trying the API without downloading the real models.
 */
export async function demoModels(cacheDir?: string): Promise<DemoModelPaths> {
  const d = await ensureDemoModels(cacheDir);
  return { esm: d.esm, dnabert: d.dnabert, classifier: d.classifier };
}
