/**
 * `virnucpro embed`: per-record embeddings of one FASTA or FASTQ file (told
 * apart by content, io/sequences.ts; FASTQ qualities are checked and not used)
 * with ESM-2 (proteins) or DNABERT-S (nucleotides), pooled as VirNucPro does, streamed to
 * a .jsonl, .npy or .safetensors file (runtime/embedding-output.ts) that
 * appears only when every record is written.
 */
import { stat } from 'node:fs/promises';
import type { FastaRecord } from '../io/fasta.js';
import { readSequences } from '../io/sequences.js';
import type { Precision } from '../formats/onnx/layers.js';
import { isBundle } from '../models/bundle.js';
import { loadDnabert, loadEsm2 } from '../models/load.js';
import { ModelsOnDevice } from '../runtime/device-failures.js';
import { DnabertEmbedder, Esm2Embedder } from '../runtime/embedders.js';
import { embeddingFormatOf, needsRecordCount, openEmbeddingSink } from '../runtime/embedding-output.js';
import type { Log } from '../util/log.js';
import { createProgress } from '../util/progress.js';

export type EmbedModel = 'esm2' | 'dnabert-s';

export interface EmbedOptions {
  model: EmbedModel;
  /** ESM-2: fair-esm .pt or Hugging Face directory; DNABERT-S: model directory; or a prepared bundle. */
  weights: string;
  input: string;
  /** OUT.jsonl, OUT.npy or OUT.safetensors. */
  output: string;
  /** cpu, cuda, cuda:N or webgpu. */
  device: string;
  /** Padded tokens per batch (default: runtime/embedders.ts). */
  batchTokens?: number;
  /** ONNX Runtime intra-op threads (default: all cores). */
  threads?: number;
  /** Of graphs built from raw weights; bundles carry their own. */
  precision: Precision;
  /** Run on the CPU, with a warning, when the device cannot start or cannot run the model. */
  allowCpuFallback?: boolean;
  /** Where graphs built from raw weights are kept. */
  cacheDir?: string;
  /** No progress bar. */
  quiet?: boolean;
  log: Log;
}

/** Records embedded per step: bounds memory while keeping length-sorted batches full. */
const RECORDS_PER_STEP = 4096;

/** What an embed run did. */
export interface EmbedSummary {
  /** The file written. */
  output: string;
  records: number;
  /** Residues (or bases) embedded, all records together. */
  residues: number;
  /** The device that ran the model (cpu when it fell back). */
  device: string;
  seconds: number;
}

export async function runEmbed(o: EmbedOptions): Promise<EmbedSummary> {
  const format = embeddingFormatOf(o.output); // refuses an unknown extension before any work
  const embedderOptions = {
    threads: o.threads,
    batchTokens: o.batchTokens,
    precision: o.precision,
    allowCpuFallback: o.allowCpuFallback,
    cacheDir: o.cacheDir,
    log: o.log,
  };
  const alphabet = o.model === 'esm2' ? 'protein' : 'nucleotide';
  const bundle = await isBundle(o.weights);
  let open: (device: string) => Promise<Esm2Embedder | DnabertEmbedder>;
  if (o.model === 'esm2') {
    const source = bundle ? o.weights : await loadEsm2(o.weights);
    open = (device) => Esm2Embedder.create(source, { ...embedderOptions, device });
  } else {
    const source = bundle ? o.weights : await loadDnabert(o.weights);
    open = (device) => DnabertEmbedder.create(source, { ...embedderOptions, device });
  }
  // Some devices fail only when the model first runs (an op the provider lacks): the CPU then takes over
  // with allowCpuFallback, else the run stops with exit code 4 and the fix.
  const embedder = await ModelsOnDevice.open(o.device, {
    open,
    close: (e) => e.close(),
    deviceOf: (e) => e.device,
    allowCpuFallback: o.allowCpuFallback ?? false,
    log: o.log,
  });
  const started = Date.now();
  let sink: ReturnType<typeof openEmbeddingSink> | undefined;
  try {
    let records = 0;
    if (needsRecordCount(format)) {
      for await (const _ of readSequences(o.input, { alphabet })) records++;
    }
    const out = openEmbeddingSink(o.output, embedder.current.dim, records);
    sink = out;
    const total = (await stat(o.input)).size;
    const progress = createProgress({ label: `embed ${o.model}`, total, unit: 'bytes', quiet: o.quiet });
    let done = 0;
    let residues = 0;
    const step = async (batch: FastaRecord[]) => {
      const seqs = batch.map((r) => r.sequence);
      const vectors = await embedder.run((e) => (e instanceof Esm2Embedder ? e.embed(seqs, batch.map((r) => r.id)) : e.embed(seqs)));
      out.write(batch.map((r) => r.id), vectors);
      done += batch.length;
      for (const s of seqs) residues += s.length;
    };
    let pending: FastaRecord[] = [];
    for await (const rec of readSequences(o.input, { alphabet, onProgress: (read) => progress.update(read, `${done} records`) })) {
      pending.push(rec);
      if (pending.length >= RECORDS_PER_STEP) {
        await step(pending);
        pending = [];
      }
    }
    if (pending.length > 0) await step(pending);
    out.commit();
    progress.stop();
    const seconds = (Date.now() - started) / 1000;
    o.log(`embedded ${done} records (${residues} residues) on ${embedder.device} in ${seconds.toFixed(1)} s; wrote ${o.output}`);
    return { output: o.output, records: done, residues, device: embedder.device, seconds };
  } catch (e) {
    sink?.abort();
    throw e;
  } finally {
    await embedder.close();
  }
}
