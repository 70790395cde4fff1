/**
 * `virnucpro embed esm2|dnabert-s --weights PATH -i FASTA -o OUT`: per-record
 * embeddings with VirNucPro's pooling. Flag parsing only; the work is in
 * src/runtime (embedders, embedding-output).
 */
import type { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { readFasta, type FastaRecord } from '../../io/fasta.js';
import { isBundle } from '../../models/bundle.js';
import { loadDnabert, loadEsm2 } from '../../models/load.js';
import { DEFAULT_BATCH_TOKENS, DnabertEmbedder, Esm2Embedder } from '../../runtime/embedders.js';
import { ModelsOnDevice } from '../../runtime/device-failures.js';
import { embeddingFormatOf, needsRecordCount, openEmbeddingSink } from '../../runtime/embedding-output.js';
import { batchTokensFlag, MAX_BATCH_TOKENS, threadsFlag } from '../../scheduler/limits.js';
import { UsageError } from '../../util/errors.js';
import { createProgress } from '../../util/progress.js';

interface EmbedFlags {
  weights: string;
  input: string;
  output: string;
  device: string;
  batchTokens: number;
  threads?: number;
  precision: 'fp32' | 'fp16';
  allowCpuFallback?: boolean;
  cacheDir?: string;
  quiet?: boolean;
}

/** Records embedded per step: bounds memory while keeping length-sorted batches full. */
const RECORDS_PER_STEP = 4096;

export function registerEmbed(program: Command): void {
  program
    .command('embed')
    .description('embed FASTA records with ESM-2 (proteins) or DNABERT-S (nucleotides), pooled as VirNucPro does')
    .argument('<model>', 'esm2 or dnabert-s')
    .requiredOption('--weights <path>', 'ESM-2: fair-esm .pt or Hugging Face dir; DNABERT-S: model dir; or a prepared bundle dir')
    .requiredOption('-i, --input <fasta>', 'input FASTA (plain, gzip, bzip2, xz or zstd)')
    .requiredOption('-o, --output <file>', 'OUT.jsonl (one JSON line per record), OUT.npy or OUT.safetensors (float32 [records, dim] + OUT.<ext>.ids.txt)')
    .option('--device <device>', 'cpu, cuda, cuda:N or webgpu', 'cpu')
    .option('--allow-cpu-fallback', 'run on CPU (with a warning) when the device cannot start or cannot run the model')
    .option('--batch-tokens <N>', `padded tokens per batch (at most ${MAX_BATCH_TOKENS})`, batchTokensFlag(), DEFAULT_BATCH_TOKENS)
    .option('-t, --threads <N>', 'CPU threads (default: all cores; at most 4 per core)', threadsFlag('--threads'))
    .option('--precision <p>', 'fp32 or fp16 (raw weights only; bundles carry their own)', 'fp32')
    .option('--cache-dir <dir>', 'where graphs built from raw weights are kept')
    .option('-q, --quiet', 'no progress and no summary')
    .action(async (model: string, flags: EmbedFlags) => {
      if (model !== 'esm2' && model !== 'dnabert-s') throw new UsageError(`unknown model '${model}'`, { hint: 'use esm2 or dnabert-s' });
      if (flags.precision !== 'fp32' && flags.precision !== 'fp16') throw new UsageError(`--precision must be fp32 or fp16, got '${flags.precision}'`);
      embeddingFormatOf(flags.output); // refuse an unknown extension before any work
      await runEmbed(model, flags);
    });
}

async function runEmbed(model: 'esm2' | 'dnabert-s', flags: EmbedFlags): Promise<void> {
  const log = (line: string) => {
    if (!flags.quiet || /^warning/i.test(line)) process.stderr.write(`${line}\n`);
  };
  const options = {
    threads: flags.threads,
    batchTokens: flags.batchTokens,
    precision: flags.precision,
    allowCpuFallback: flags.allowCpuFallback,
    cacheDir: flags.cacheDir,
    log,
  };
  const alphabet = model === 'esm2' ? 'protein' : 'nucleotide';
  const bundle = await isBundle(flags.weights);
  let open: (device: string) => Promise<Esm2Embedder | DnabertEmbedder>;
  if (model === 'esm2') {
    const source = bundle ? flags.weights : await loadEsm2(flags.weights);
    open = (device) => Esm2Embedder.create(source, { ...options, device });
  } else {
    const source = bundle ? flags.weights : await loadDnabert(flags.weights);
    open = (device) => DnabertEmbedder.create(source, { ...options, device });
  }
  // Some devices fail only when the model first runs (an op the provider lacks): the CPU then takes over
  // with --allow-cpu-fallback, else the run stops with exit code 4 and the fix.
  const embedder = await ModelsOnDevice.open(flags.device, {
    open,
    close: (e) => e.close(),
    deviceOf: (e) => e.device,
    allowCpuFallback: flags.allowCpuFallback ?? false,
    log,
  });
  const started = Date.now();
  let sink: ReturnType<typeof openEmbeddingSink> | undefined;
  try {
    let records = 0;
    if (needsRecordCount(embeddingFormatOf(flags.output))) {
      for await (const _ of readFasta(flags.input, { alphabet })) records++;
    }
    sink = openEmbeddingSink(flags.output, embedder.current.dim, records);
    const total = (await stat(flags.input)).size;
    const progress = createProgress({ label: `embed ${model}`, total, unit: 'bytes', quiet: flags.quiet });
    let done = 0;
    let residues = 0;
    const step = async (batch: FastaRecord[]) => {
      const seqs = batch.map((r) => r.sequence);
      const vectors = await embedder.run((e) => (e instanceof Esm2Embedder ? e.embed(seqs, batch.map((r) => r.id)) : e.embed(seqs)));
      sink!.write(batch.map((r) => r.id), vectors);
      done += batch.length;
      for (const s of seqs) residues += s.length;
    };
    let pending: FastaRecord[] = [];
    for await (const rec of readFasta(flags.input, { alphabet, onProgress: (read) => progress.update(read, `${done} records`) })) {
      pending.push(rec);
      if (pending.length >= RECORDS_PER_STEP) {
        await step(pending);
        pending = [];
      }
    }
    if (pending.length > 0) await step(pending);
    sink.commit();
    progress.stop();
    const seconds = (Date.now() - started) / 1000;
    log(`embedded ${done} records (${residues} residues) on ${embedder.device} in ${seconds.toFixed(1)} s; wrote ${flags.output}`);
  } catch (e) {
    sink?.abort();
    throw e;
  } finally {
    await embedder.close();
  }
}
