/**
 * `virnucpro predict`: flag parsing only; the pipeline is src/pipeline/predict.ts.
 */
import { Option, type Command } from 'commander';
import { runPredict } from '../../pipeline/predict.js';
import { SHARD_GROWTH } from '../../pipeline/plan.js';
import { PREDICT_DEFAULTS } from '../../pipeline/predict-options.js';
import { parseUnitSlice, type UnitSlice } from '../../pipeline/slices.js';
import { batchTokensFlag, MAX_BATCH_TOKENS, MAX_SHARD_TOKENS, shardTokensFlag, threadsFlag } from '../../scheduler/limits.js';
import { schedulerSettingsFrom } from '../../scheduler/settings.js';
import { UsageError } from '../../util/errors.js';
import { addModelOptions, modelChoiceFrom, type ModelFlags } from '../model-flags.js';
import { addQueueOptions, queueSettingsFrom, type QueueFlags } from '../queue-flags.js';
import { openLog } from '../../util/log.js';
import { addSchedulerOptions, schedulerValuesFrom, type SchedulerFlags } from '../scheduler-flags.js';

interface PredictFlags extends SchedulerFlags, QueueFlags, ModelFlags {
  expectedLength: number;
  outDir?: string;
  threads?: number;
  device?: string;
  batchTokens: number | 'auto';
  shardTokens: number | 'auto';
  resume?: boolean;
  force?: boolean;
  planOnly?: boolean;
  units?: UnitSlice;
  keepIntermediate?: boolean;
  saveEmbeddings?: boolean;
  minScore: number;
  minLength: number;
  dashboardPort?: number;
  dashboardHost?: string;
  allowCpuFallback?: boolean;
  allowLengthMismatch?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  logFile?: string;
}

function integer(name: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < min) throw new UsageError(`${name} must be an integer >= ${min}, got '${value}'`);
    return n;
  };
}

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n > 65535) throw new UsageError(`--dashboard-port must be a port number from 0 to 65535, got '${value}'`, { hint: '0 picks a free port' });
  return n;
}

function score(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new UsageError(`--min-score must be a number between 0 and 1, got '${value}'`);
  return n;
}

export function registerPredict(program: Command): void {
  const cmd = program
    .command('predict')
    .description('identify viral sequences: chunk, translate, embed (DNABERT-S + ESM-2), classify; resumable')
    .argument('<input>', "FASTA or FASTQ file (plain, gzip, bzip2, xz or zstd; detected by content), or '-' for stdin")
    .requiredOption('-e, --expected-length <N>', 'chunk length the classifier was trained for: 300 or 500', integer('--expected-length', 1))
    .option('-o, --out-dir <dir>', 'output directory (default: <input stem>_virnucpro; stdin_virnucpro for stdin)')
    .option('-t, --threads <N>', 'ONNX Runtime threads per worker (default: cores / CPU workers; at most 4 per core)', threadsFlag('--threads'))
    .option('--device <spec>', 'one device: cpu, cuda:N or webgpu (shorthand for --devices)')
    .option(
      '--batch-tokens <N|auto>',
      `padded tokens per model batch (at most ${MAX_BATCH_TOKENS}); auto: as many as the run's GPUs hold (docs/gpu.md)`,
      (value: string) => (value.trim() === 'auto' ? 'auto' : batchTokensFlag()(value)),
      PREDICT_DEFAULTS.batchTokens,
    )
    .option(
      '--shard-tokens <N|auto>',
      `tokens per shard of work, the unit of scheduling and resume (at most ${MAX_SHARD_TOKENS}); auto: growing with the input from two batches' worth to ${SHARD_GROWTH.maxTokens}, so that every run has enough shards to balance several devices`,
      (value: string) => (value.trim() === 'auto' ? 'auto' : shardTokensFlag()(value)),
      PREDICT_DEFAULTS.shardTokens,
    )
    .addOption(new Option('--resume', 'continue an interrupted run in the output directory').conflicts('force'))
    .option('--force', 'overwrite the output directory')
    .addOption(new Option('--plan-only', 'plan the run (work/) and stop without computing; then --units jobs and a final --resume (README: Running on a cluster)').conflicts('units'))
    .addOption(
      new Option('--units <I/N>', 'compute only slice I of N of a run planned with --plan-only, writing no outputs (implies --resume)')
        .argParser((value: string) => parseUnitSlice(value))
        .conflicts('force'),
    )
    .option('--keep-intermediate', "also write the original's intermediate FASTA files")
    .option('--save-embeddings', 'also write the merged features per shard (embeddings/, see README)')
    .option('--min-score <x>', 'virus score above which a record is called virus in summary.tsv', score, PREDICT_DEFAULTS.minScore)
    .option('--min-length <N>', 'records shorter than N bases are not scored (status too_short in summary.tsv); 0: off', integer('--min-length', 0), PREDICT_DEFAULTS.minLength)
    .option('--allow-cpu-fallback', 'run on the CPU (with a warning) when a GPU provider cannot start or cannot run the models')
    .option('--allow-length-mismatch', "run VirNucPro's published classifier with an -e other than the one it was trained for")
    .addOption(new Option('-q, --quiet', 'no progress output').conflicts('verbose'))
    .option('-v, --verbose', 'more detail in the log')
    .option('--log-file <file>', 'also append the log to this file')
    .option('--dashboard-port <N>', 'serve a live web dashboard of the run on this port (0: a free port; the log prints its URL)', port)
    .option('--dashboard-host <host>', 'address the live dashboard listens on (default 127.0.0.1, this machine only)');
  addSchedulerOptions(addQueueOptions(addModelOptions(cmd))).action(async (input: string, flags: PredictFlags) => {
    if (flags.device && (flags.devices || flags.gpus)) throw new UsageError('--device cannot be combined with --devices/--gpus');
    if (flags.dashboardHost !== undefined && flags.dashboardPort === undefined) throw new UsageError('--dashboard-host needs --dashboard-port', { hint: 'add --dashboard-port 0 to pick a free port' });
    const scheduling = schedulerValuesFrom(flags, flags.device ?? flags.devices);
    const log = openLog({ quiet: flags.quiet, file: flags.logFile, fileLabel: '--log-file' });
    const scheduler = await schedulerSettingsFrom(scheduling, { log });
    await runPredict({
      input,
      expectedLength: flags.expectedLength,
      outDir: flags.outDir,
      models: { ...modelChoiceFrom(flags), allowLengthMismatch: flags.allowLengthMismatch },
      threads: flags.threads,
      batchTokens: flags.batchTokens,
      shardTokens: flags.shardTokens,
      resume: flags.resume,
      force: flags.force,
      planOnly: flags.planOnly,
      units: flags.units,
      queue: queueSettingsFrom(flags),
      // commander keeps the arguments it parsed (untyped): --plan-only prints the next commands from them.
      commandLine: (program as unknown as { rawArgs?: string[] }).rawArgs,
      keepIntermediate: flags.keepIntermediate,
      saveEmbeddings: flags.saveEmbeddings,
      minScore: flags.minScore,
      minLength: flags.minLength,
      dashboard: flags.dashboardPort === undefined ? undefined : { port: flags.dashboardPort, host: flags.dashboardHost },
      allowCpuFallback: flags.allowCpuFallback,
      scheduler,
      quiet: flags.quiet,
      verbose: flags.verbose,
      log,
    });
  });
}
