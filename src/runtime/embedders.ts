/**
 * High-level embedders: what `embed` and `predict` call.
 *
 *   const esm = await Esm2Embedder.create(source, { device: 'cpu', threads: 2, batchTokens: 4096 });
 *   const vectors = await esm.embed(proteins);          // Float32Array[] (embedDim each), input order
 *   const dna = await DnabertEmbedder.create(source, options);
 *   const vectors = await dna.embed(sequences);         // Float32Array[] (hiddenSize each)
 *   const clf = await Classifier.create(source, options);
 *   const probs = await clf.classify(features, rows);   // rows x numClasses softmax, row-major
 *   await esm.close();
 *
 * `source` is either a model loaded from the user's files (models/load.ts:
 * loadEsm2, loadDnabert, loadClassifier), whose graph is then built into the
 * graph cache first, or a prepared bundle directory (models/bundle.ts).
 *
 * Batching: sequences are length-sorted into batches of at most `batchTokens`
 * padded tokens; padding is masked in attention and left out of the means,
 * so results do not depend on the batching, and come back in input order.
 */
import * as ort from 'onnxruntime-node';
import type { Precision } from '../formats/onnx/layers.js';
import { openBundle, type BundleModelEntry, type OpenedBundle } from '../models/bundle.js';
import { CLASSIFIER_INPUT, CLASSIFIER_OUTPUT } from '../models/classifier.js';
import type { ClassifierConfig, DnabertConfig, Esm2Config, LoadedModel, ModelKind } from '../models/config.js';
import { DNABERT_INPUTS } from '../models/dnabert.js';
import { EMBEDDING_OUTPUT, ESM2_INPUT } from '../models/esm2.js';
import { encodeProtein } from '../models/tokenizers/esm.js';
import { loadDnaTokenizer, type DnaTokenizer } from '../models/tokenizers/dnabert.js';
import { InputError, UsageError } from '../util/errors.js';
import { planBatches } from './batching.js';
import { graphFor, type CachedGraph } from './graph-cache.js';
import { deviceName, openSession, parseDevice, type Device } from './session.js';

export interface EmbedderOptions {
  /** 'cpu' (default), 'cuda', 'cuda:N' or 'webgpu'. */
  device?: string;
  /** CPU threads (default: all cores). */
  threads?: number;
  /** Padded tokens per batch (default 4096). */
  batchTokens?: number;
  /** Weight/compute precision when building from raw weights (bundles carry their own). Default fp32. */
  precision?: Precision;
  /** Fall back to CPU, with a logged line, when the device cannot start. */
  allowCpuFallback?: boolean;
  /** Graph cache root for raw weights (see runtime/graph-cache.ts). */
  cacheDir?: string;
  /** Progress and fallback messages. */
  log?: (line: string) => void;
}

export const DEFAULT_BATCH_TOKENS = 4096;

/** Where a model comes from: weights loaded from the user's files, or a prepared bundle directory. */
export type ModelSource<C> = LoadedModel<C> | string;

/** An open ONNX Runtime session on one model of a bundle. */
class ModelSession<C> {
  private constructor(
    readonly session: ort.InferenceSession,
    readonly device: Device,
    readonly config: C,
    readonly bundle: OpenedBundle,
    readonly entry: BundleModelEntry<C>,
    private readonly cached: CachedGraph | null,
  ) {}

  static async open<C>(kind: ModelKind, source: ModelSource<C>, options: EmbedderOptions, tokenizerPath?: string): Promise<ModelSession<C>> {
    let cached: CachedGraph | null = null;
    let dir: string;
    if (typeof source === 'string') {
      dir = source;
    } else {
      if (source.kind !== kind) throw new UsageError(`expected a ${kind} model, got a ${source.kind} model (${source.files[0] ?? 'in memory'})`);
      const inputs =
        kind === 'esm2'
          ? { esm2: source as LoadedModel<Esm2Config> }
          : kind === 'dnabert-s'
            ? { dnabert: { model: source as LoadedModel<DnabertConfig>, tokenizerPath: tokenizerPath ?? '' } }
            : { classifier: source as LoadedModel<ClassifierConfig> };
      cached = await graphFor(inputs, { precision: options.precision ?? 'fp32', cacheDir: options.cacheDir, log: options.log });
      dir = cached.dir;
    }
    try {
      const bundle = await openBundle(dir);
      const entry = bundle.manifest.models[kind] as BundleModelEntry<C> | undefined;
      if (!entry) throw new InputError(`${bundle.dir}: the bundle has no ${kind} model`);
      const { session, device } = await openSession(bundle.path(entry.graph), {
        device: parseDevice(options.device ?? 'cpu'),
        threads: options.threads,
        allowCpuFallback: options.allowCpuFallback,
        log: options.log,
      });
      return new ModelSession(session, device, entry.config, bundle, entry, cached);
    } catch (e) {
      await cached?.release();
      throw e;
    }
  }

  get deviceName(): string {
    return deviceName(this.device);
  }

  async close(): Promise<void> {
    await this.session.release();
    await this.cached?.release();
  }
}

/**
 * Runs token sequences through a pooled-embedding graph in length-sorted
 * batches and returns one vector per sequence, in input order.
 */
async function embedBatched(
  model: ModelSession<unknown>,
  sequences: readonly Int32Array[],
  dim: number,
  batchTokens: number,
  feeds: (rows: readonly Int32Array[], width: number) => Record<string, ort.Tensor>,
): Promise<Float32Array[]> {
  const out = new Array<Float32Array>(sequences.length);
  for (const batch of planBatches(sequences.map((s) => s.length), { batchTokens })) {
    const rows = batch.indices.map((i) => sequences[i]);
    const result = await model.session.run(feeds(rows, batch.maxLen));
    const data = result[EMBEDDING_OUTPUT].data as Float32Array;
    batch.indices.forEach((i, r) => {
      out[i] = data.slice(r * dim, (r + 1) * dim);
    });
  }
  return out;
}

/** Right-pads rows into a [rows, width] int64 tensor. */
function paddedTensor(rows: readonly Int32Array[], width: number, pad: number, value: (t: number) => number = (t) => t): ort.Tensor {
  const data = new BigInt64Array(rows.length * width).fill(BigInt(pad));
  rows.forEach((row, r) => {
    for (let j = 0; j < row.length; j++) data[r * width + j] = BigInt(value(row[j]));
  });
  return new ort.Tensor('int64', data, [rows.length, width]);
}

/** ESM-2 protein embeddings with VirNucPro's pooling (mean over residues 1..min(1024, len), final layer). */
export class Esm2Embedder {
  private constructor(
    private readonly model: ModelSession<Esm2Config>,
    private readonly batchTokens: number,
  ) {}

  static async create(source: ModelSource<Esm2Config>, options: EmbedderOptions = {}): Promise<Esm2Embedder> {
    return new Esm2Embedder(await ModelSession.open('esm2', source, options), options.batchTokens ?? DEFAULT_BATCH_TOKENS);
  }

  get config(): Esm2Config {
    return this.model.config;
  }
  get dim(): number {
    return this.model.config.embedDim;
  }
  get device(): string {
    return this.model.deviceName;
  }

  /** Embeds proteins (20-letter strings); `labels` name records in error messages. */
  async embed(proteins: readonly string[], labels?: readonly string[]): Promise<Float32Array[]> {
    return this.embedTokens(proteins.map((p, i) => encodeProtein(p, labels?.[i])));
  }

  /** Embeds token id sequences (<cls> residues <eos>, unpadded). */
  async embedTokens(tokens: readonly Int32Array[]): Promise<Float32Array[]> {
    const pad = this.model.config.padIdx;
    return embedBatched(this.model, tokens, this.dim, this.batchTokens, (rows, width) => ({ [ESM2_INPUT]: paddedTensor(rows, width, pad) }));
  }

  close(): Promise<void> {
    return this.model.close();
  }
}

/** DNABERT-S nucleotide embeddings with VirNucPro's pooling (mean over all tokens incl. [CLS]/[SEP]). */
export class DnabertEmbedder {
  private constructor(
    private readonly model: ModelSession<DnabertConfig>,
    private readonly tokenizer: DnaTokenizer,
    private readonly batchTokens: number,
  ) {}

  /**
   * From loaded weights (the tokenizer is `tokenizerPath`, default `tokenizer.json` next to the
   * weights) or from a bundle (its copied tokenizer).
   */
  static async create(source: ModelSource<DnabertConfig>, options: EmbedderOptions & { tokenizerPath?: string } = {}): Promise<DnabertEmbedder> {
    const tokenizerPath = typeof source === 'string' ? undefined : (options.tokenizerPath ?? defaultTokenizerPath(source));
    const model = await ModelSession.open('dnabert-s', source, options, tokenizerPath);
    try {
      const path = tokenizerPath ?? model.bundle.path(model.entry.tokenizer ?? 'dnabert-s.tokenizer.json');
      return new DnabertEmbedder(model, await loadDnaTokenizer(path), options.batchTokens ?? DEFAULT_BATCH_TOKENS);
    } catch (e) {
      await model.close();
      throw e;
    }
  }

  get config(): DnabertConfig {
    return this.model.config;
  }
  get dim(): number {
    return this.model.config.hiddenSize;
  }
  get device(): string {
    return this.model.deviceName;
  }

  async embed(sequences: readonly string[]): Promise<Float32Array[]> {
    return this.embedTokens(sequences.map((s) => this.tokenizer.encode(s)));
  }

  /** Embeds token id sequences ([CLS] ... [SEP], unpadded). */
  async embedTokens(ids: readonly Int32Array[]): Promise<Float32Array[]> {
    return embedBatched(this.model, ids, this.dim, this.batchTokens, (rows, width) => ({
      [DNABERT_INPUTS.ids]: paddedTensor(rows, width, 0),
      [DNABERT_INPUTS.mask]: paddedTensor(rows, width, 0, () => 1),
    }));
  }

  close(): Promise<void> {
    return this.model.close();
  }
}

function defaultTokenizerPath(model: LoadedModel<DnabertConfig>): string {
  const first = model.files[0];
  if (!first) throw new UsageError('DNABERT-S weights built in memory need an explicit tokenizerPath');
  return `${first.replace(/[^/\\]*$/, '')}tokenizer.json`;
}

/** Rows classified per session run (bounds the memory of one call). */
const CLASSIFY_ROWS_PER_RUN = 16384;

/** VirNucPro's MLP classifier: features (DNABERT-S mean first, then ESM-2 mean) -> softmax probabilities. */
export class Classifier {
  private constructor(private readonly model: ModelSession<ClassifierConfig>) {}

  static async create(source: ModelSource<ClassifierConfig>, options: EmbedderOptions = {}): Promise<Classifier> {
    return new Classifier(await ModelSession.open('classifier', source, options));
  }

  get config(): ClassifierConfig {
    return this.model.config;
  }
  get device(): string {
    return this.model.deviceName;
  }

  /** `features` is rows x inputDim row-major; returns rows x numClasses probabilities (index 1 = virus). */
  async classify(features: Float32Array, rows: number): Promise<Float32Array> {
    const { inputDim, numClasses } = this.model.config;
    if (features.length !== rows * inputDim) {
      throw new UsageError(`classifier expects ${rows} x ${inputDim} = ${rows * inputDim} features, got ${features.length}`);
    }
    const out = new Float32Array(rows * numClasses);
    for (let start = 0; start < rows; start += CLASSIFY_ROWS_PER_RUN) {
      const n = Math.min(CLASSIFY_ROWS_PER_RUN, rows - start);
      const input = new ort.Tensor('float32', features.subarray(start * inputDim, (start + n) * inputDim), [n, inputDim]);
      const result = await this.model.session.run({ [CLASSIFIER_INPUT]: input });
      out.set(result[CLASSIFIER_OUTPUT].data as Float32Array, start * numClasses);
    }
    return out;
  }

  close(): Promise<void> {
    return this.model.close();
  }
}
