/**
 * `virnucpro embed esm2|dnabert-s --weights PATH -i FASTA|FASTQ -o OUT`: per-record
 * embeddings with VirNucPro's pooling. Flag parsing only; the work is in
 * src/pipeline/embed.ts.
 */
import type { Command } from 'commander';
import { runEmbed } from '../../pipeline/embed.js';
import { DEFAULT_BATCH_TOKENS } from '../../runtime/embedders.js';
import { batchTokensFlag, MAX_BATCH_TOKENS, threadsFlag } from '../../scheduler/limits.js';
import { UsageError } from '../../util/errors.js';
import { openLog } from '../../util/log.js';

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

export function registerEmbed(program: Command): void {
  program
    .command('embed')
    .description('embed FASTA or FASTQ records with ESM-2 (proteins) or DNABERT-S (nucleotides), pooled as VirNucPro does')
    .argument('<model>', 'esm2 or dnabert-s')
    .requiredOption('--weights <path>', 'ESM-2: fair-esm .pt or Hugging Face dir; DNABERT-S: model dir; or a prepared bundle dir')
    .requiredOption('-i, --input <file>', 'input FASTA or FASTQ, told apart by content (plain, gzip, bzip2, xz or zstd)')
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
      await runEmbed({ ...flags, model, log: openLog({ quiet: flags.quiet }) });
    });
}
