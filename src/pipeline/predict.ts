/**
 * `virnucpro predict`, end to end:
 *
 *   models   resolve and check the three models (bundle, raw weights or demo)
 *   plan     stream the FASTA through chunking/translation into shard files (work/),
 *            checksumming it on the way (the input is read once)
 *   compute  shards -> devices (scheduler): DNABERT-S + ESM-2 embeddings, classifier;
 *            each result written atomically as it arrives
 *   outputs  prediction_results.txt, prediction_results_highestscore.csv, summary.tsv,
 *            run.json (and the intermediate FASTA files / embeddings when asked)
 *
 * Resume: plan.json fingerprints the input and every result-changing parameter;
 * a shard is done exactly when its result file validates, and the work files are
 * checked against plan.json before use (workdir.ts). Killing the run at any
 * point and resuming gives byte-identical outputs.
 */
import { stat, access } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostname } from 'node:os';
import * as ort from 'onnxruntime-node';
import { Coordinator, type RunReport } from '../scheduler/coordinator.js';
import { shardCost } from '../scheduler/cost.js';
import { autoBatchTokens, sequenceBoundsForChunk } from '../scheduler/batch-size.js';
import type { ShardDescriptor } from '../scheduler/types.js';
import { dashboardDefault, startMonitoring } from '../monitor/session.js';
import { LiveDashboard } from '../monitor/live-dashboard.js';
import { REPORT_FILE, writeReport } from '../report/generate.js';
import { UNIT_LOG_NAME } from '../report/unit-events.js';
import { writeFileAtomic } from '../util/atomic.js';
import { ExitCode, InputError, UsageError, VirnucproError } from '../util/errors.js';
import { STDIN_PATH } from '../io/paths.js';
import type { SequenceSource } from '../io/sequences.js';
import { redactCommandLine } from '../util/command-line.js';
import { onInterrupt } from '../util/interrupt.js';
import type { Log } from '../util/log.js';
import { createProgress } from '../util/progress.js';
import { TOOL_VERSION } from '../util/version.js';
import { holdPoint } from '../util/test-hold.js';
import { OUTPUT_FILES, virusFastaName, writeOutputs, type FinalizeCounts } from './finalize.js';
import { demoWarningFor, resolveModels, type ResolvedModels } from './models.js';
import {
  defaultShardSizing,
  describeShardSizing,
  estimateDnaTokens,
  planRun,
  replanDamaged,
  type ParameterFingerprint,
  type PlanOptions,
  type ShardSizing,
} from './plan.js';
import { resolvePredictOptions, type PredictOptions, type ResolvedPredictOptions } from './predict-options.js';
import { sha256File } from '../util/hash.js';
import { readShardResult, shardInputName, shardResultName, writeShardResult } from './shard-files.js';
import { CALIBRATION_PROBE, type ShardPayload, type ShardWorkerInit, type ShardWorkerResult } from './shard-worker.js';
import { translateFile, translateOutputPaths } from './translate-files.js';
import { assertResumable, PLAN_FORMAT_VERSION, STDIN_COPY, WorkDir, type PlanOnDisk, type RunPlan } from './workdir.js';
import { pathExists } from '../util/fs.js';
import { DEMO_WARNING_FILE, OutputDirectory, RUN_JSON } from './outdir.js';
import { checkQueueOptions, computeShardsThroughQueue, forgetQueuedRun } from './queue-compute.js';
import { assertSlicePlanned, describeSliceWork, planOnlyLines, shardsOfSlice, sliceIncomplete, sliceMetricsDir } from './slices.js';

/** How ONNX Runtime, CUDA and V8 word an allocation failure. */
const OUT_OF_MEMORY = /out of memory|failed to allocate|bad_alloc|allocation failed|CUDNN_STATUS_ALLOC_FAILED|ERR_MEMORY/i;

/**
 * Refuses, at once, an input predict cannot use; returns its size (undefined for stdin).
 * It must be a regular file, since a resumed run reads it again to check it is the same
 * input: a named pipe (which, read twice, would hang) or a directory is refused with exit
 * code 2. Stdin (`-`) is the exception: it is read once, and copied into the work folder
 * on the way for whatever reads the input again (plan.ts); a terminal is refused, unless
 * resuming (which reads the copy instead: assertStdinReadable checks again if it must plan).
 */
async function checkInputFile(path: string, resume: boolean): Promise<number | undefined> {
  if (path === STDIN_PATH) {
    if (!resume) assertStdinReadable();
    return undefined;
  }
  let info;
  try {
    info = await stat(path);
    await access(path, fsConstants.R_OK);
  } catch (e) {
    throw new InputError(`${path}: cannot read the input file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (info.isDirectory()) throw new InputError(`${path} is a directory`, { hint: 'give the FASTA file itself (plain, gzip, bzip2, xz or zstd)' });
  if (!info.isFile()) {
    throw new InputError(`${path} is not a regular file (a pipe, socket or device)`, {
      hint: 'save the sequences to a file first (e.g. `zcat reads.fa.gz > reads.fa`, or pass the compressed file itself), or pipe them in as stdin (`-`): a run is resumable only from an input it can read again',
    });
  }
  return info.size;
}

/** Stdin about to be read for a plan: a terminal would wait for typed sequences, so it is refused. */
function assertStdinReadable(): void {
  if (process.stdin.isTTY) {
    throw new UsageError("the input is stdin ('-'), but stdin is a terminal", {
      hint: 'pipe the sequences in, e.g. `zcat reads.fq.gz | virnucpro predict - -e 500 ...`, or give the file itself',
    });
  }
}

export function handlerModulePath(): string {
  // The worker imports this module next to us: .ts under tsx (tests), .js when built.
  const here = fileURLToPath(import.meta.url);
  return join(here, '..', here.endsWith('.ts') ? 'shard-worker.ts' : 'shard-worker.js');
}

/**
 * Runs predict into its output directory (see outdir.ts for what may be in it and what
 * --force/--resume may do there), which it holds locked from the moment it claims it
 * until it returns or throws.
 */
export async function runPredict(options: PredictOptions): Promise<void> {
  const o = resolvePredictOptions(options);
  const out = new OutputDirectory({
    outDir: o.outDir,
    input: o.input,
    expectedLength: o.expectedLength,
    force: o.force,
    resume: o.resume,
    keepIntermediate: o.keepIntermediate,
    units: o.units,
  });
  const session: RunSession = {};
  try {
    await predictInto(o, out, session);
  } catch (e) {
    throw out.explain(e);
  } finally {
    await session.live?.stop();
    out.release();
  }
}

/** What lives as long as the run and is stopped when it ends, however it ends. */
interface RunSession {
  live?: LiveDashboard;
}

async function predictInto(o: ResolvedPredictOptions, out: OutputDirectory, session: RunSession): Promise<void> {
  const log = o.log;
  const t0 = performance.now();
  const stages: Record<string, number> = {};
  const stage = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    session.live?.stage(name);
    const s = performance.now();
    try {
      return await fn();
    } finally {
      stages[name] = (stages[name] ?? 0) + (performance.now() - s) / 1000;
    }
  };

  const inputSize = await checkInputFile(o.input, o.resume);
  if (![300, 500].includes(o.expectedLength)) log(`note: VirNucPro's classifiers were trained for -e 300 and -e 500; using ${o.expectedLength}`);
  const outDir = out.dir;
  await out.check();
  // --queue: what it cannot do, and whether Redis answers (and takes the password), before any work.
  if (o.queue) await checkQueueOptions(o, o.queue);
  // A slice job never plans: without a plan it stops here, before the models are resolved.
  if (o.units) assertSlicePlanned(await new WorkDir(outDir).readPlan(), outDir, o.units);
  // Its URL is what --dashboard-port asks for: printed even with -q.
  const announce = o.quiet ? (line: string) => void process.stderr.write(`${line}\n`) : log;
  if (o.dashboard) session.live = await LiveDashboard.start({ ...o.dashboard, run: liveRunInfo(o, outDir), log: announce });
  // Every output of a run on the demo models says so.
  const demoWarning = demoWarningFor(o.models);
  if (demoWarning) log(demoWarning);

  const models = await stage('models', () => resolveModels({ ...o.models, expectedLength: o.expectedLength, log: o.verbose ? log : undefined, warn: log }));
  // Only now, with the input and the models checked, may --force remove the previous outputs.
  await out.claim(log);
  const batchTokens = o.batchTokens === 'auto' ? await autoBatchTokensFor(o, models, out.dir, log) : o.batchTokens;
  // Shard sizes follow the input and the batch size only (plan.ts), never the devices.
  const shardTokens: ShardSizing = o.shardTokens === 'auto' ? defaultShardSizing(batchTokens) : o.shardTokens;
  // The input's sha256 is added as it is planned (one pass), or by a hash pass when resuming.
  const parameters: ParameterFingerprint = {
    planFormat: PLAN_FORMAT_VERSION,
    expectedLength: o.expectedLength,
    modelsSha256: models.sha256,
    precision: models.precision,
    batchTokens,
    shardTokens,
    minLength: o.minLength,
  };
  const costOf = (dna: number[], prot: number[]) =>
    shardCost({ dnaTokens: dna, proteinTokens: prot }, { dnabert: models.configs.dnabert, esm2: models.configs.esm2 });

  // ---- plan (or pick up the interrupted run's plan; workdir.ts says what happens to a damaged one)
  const workDir = new WorkDir(outDir);
  const intermediate = translateOutputPaths(o.input, o.expectedLength, outDir);
  // A fresh plan reads the input (stdin: once, keeping a copy); a re-plan reads the file or that copy.
  const planOptions = (input: SequenceSource = o.input === STDIN_PATH ? { name: '<stdin>', stream: process.stdin } : o.input): PlanOptions => ({
    input,
    inputCopy: typeof input === 'string' ? undefined : workDir.path(STDIN_COPY),
    minLength: o.minLength,
    expectedLength: o.expectedLength,
    workDir,
    shardTokens,
    shardCost: costOf,
    intermediate: o.keepIntermediate ? intermediate : undefined,
    progress: createProgress({ label: 'plan', total: inputSize, unit: 'bytes', quiet: o.quiet }),
  });
  const found: PlanOnDisk = o.resume ? await workDir.readPlan() : { state: 'missing' };
  // A slice job leaves the temporaries alone: they may be other slice jobs' writes in flight (slices.ts).
  if (o.units) assertSlicePlanned(found, outDir, o.units);
  else if (o.resume) await out.removeTemporaries();
  let plan: RunPlan;
  if (found.state === 'found') {
    // Stdin is not read again: the interrupted run's copy of it stands in (workdir.ts), once checked.
    if (o.input === STDIN_PATH) {
      await stage('hash', () => workDir.assertStdinCopy(found.plan, outDir));
      log(`the input was stdin: resuming from its copy in ${workDir.rereadableInput(found.plan, o.input).path} (stdin is not read)`);
    }
    const inputSha256 = o.input === STDIN_PATH ? found.plan.fingerprint.inputSha256 : await stage('hash', () => sha256File(o.input));
    assertResumable(found.plan.fingerprint, { ...parameters, inputSha256 }, outDir);
    if (o.units) {
      // Nor does it repair the shared work folder: the worker checks each shard input's sha256, the final --resume repairs.
      plan = found.plan;
    } else {
      await workDir.removeTemporaries();
      log(`resuming the run in ${outDir}`);
      const damage = await stage('verify', () => workDir.findDamage(found.plan));
      const again = workDir.rereadableInput(found.plan, o.input).path;
      plan = damage.length === 0 ? found.plan : await stage('plan', () => replanDamaged(planOptions(again), found.plan, damage, log));
    }
  } else {
    if (found.state === 'unreadable') log(`${workDir.planPath} is damaged (${found.reason}): planning again, previous results discarded`);
    // (--plan-only --resume is the idempotent plan step of a workflow: planning afresh is what it asks for.)
    else if (o.resume && !o.planOnly) log(`nothing to resume in ${outDir} (the run had not finished planning): starting from the beginning`);
    if (o.input === STDIN_PATH) assertStdinReadable();
    plan = await stage('plan', () => planRun(planOptions(), parameters));
  }
  const counts = plan.counts;
  log(
    `${counts.records} records, ${counts.chunks} chunks, ${counts.frames} stop-free frames in ${plan.shards.length} shard(s) (--shard-tokens ${describeShardSizing(shardTokens)})` +
      (Object.values(counts.recordsWithoutFrames).some((n) => n > 0)
        ? `; records without frames: ${counts.recordsWithoutFrames.noStopFreeFrame} with a stop in every frame, ${counts.recordsWithoutFrames.shorterThanCodon} shorter than a codon, ${counts.recordsWithoutFrames.empty} empty` +
          (o.minLength > 0 ? `, ${counts.recordsWithoutFrames.tooShort} shorter than --min-length ${o.minLength}` : '')
        : ''),
  );

  if (o.planOnly) {
    for (const line of planOnlyLines({ plan, outDir, commandLine: o.commandLine })) log(line);
    return;
  }
  const toCompute = o.units ? shardsOfSlice(plan.shards, o.units) : plan.shards;
  if (o.units) log(describeSliceWork(toCompute, plan, o.units));

  // ---- compute the shards that have no valid result yet
  const pending: ShardDescriptor[] = [];
  let reused = 0;
  for (const s of toCompute) {
    const check = await readShardResult(workDir.path(shardResultName(s.index)), { shard: s.index, frames: s.frames });
    // --save-embeddings on a resumed run needs the features, which a run without it did not keep.
    const usable = check.ok && (!o.saveEmbeddings || check.result.featureDim > 0);
    if (usable) {
      reused++;
      continue;
    }
    const reason = check.ok ? 'no saved features' : check.reason;
    if (o.resume && reason !== 'missing') log(`shard ${s.index}: previous result not reused (${reason}); recomputing`);
    const payload: ShardPayload = { shard: s.index, inputPath: workDir.path(shardInputName(s.index)), inputSha256: s.inputSha256 };
    pending.push({ id: `shard-${s.index}`, cost: s.cost, payload, tokens: s.nucleotideTokens + s.proteinTokens, sequences: s.frames });
  }
  if (reused > 0) log(`${reused} shard(s) already done, ${pending.length} to compute`);

  let report: RunReport | null = null;
  if (pending.length > 0) {
    const queue = o.queue;
    report = await stage('compute', () =>
      queue
        ? computeShardsThroughQueue({ options: o, queue, models, pending, plan, workDir, outDir, batchTokens, live: session.live })
        : computeShards({ options: o, models, pending, plan, workDir, outDir, batchTokens, live: session.live }),
    );
  } else if (o.queue) {
    // Nothing left to compute; what an interrupted queue session left in Redis for this run is removed.
    await forgetQueuedRun({ queue: o.queue, models, plan, log });
  }
  const complete = report ? report.complete : true;
  // A slice job stops here: the outputs are the final --resume's.
  if (o.units) {
    if (!complete) throw sliceIncomplete(report!, o.units, outDir);
    log(`slice ${o.units.index}/${o.units.count} done: ${pending.length} shard(s) computed, ${reused} already done; the outputs are written by the final --resume (${outDir})`);
    return;
  }

  // ---- outputs
  let finalCounts: FinalizeCounts | null = null;
  if (complete) {
    finalCounts = await stage('outputs', () =>
      writeOutputs({
        plan,
        workDir,
        outDir,
        minScore: o.minScore,
        saveEmbeddings: o.saveEmbeddings,
        input: workDir.rereadableInput(plan, o.input),
        virusFasta: virusFastaName(o.input),
      }),
    );
    // Written while planning; a resumed run planned without --keep-intermediate needs one more pass.
    if (o.keepIntermediate && !(await Promise.all(Object.values(intermediate).map(pathExists))).every(Boolean)) {
      const input = workDir.rereadableInput(plan, o.input).path;
      await stage('intermediate', () => translateFile({ input, outputs: intermediate, minLength: o.minLength, expectedLength: o.expectedLength, outDir }));
    }
  }

  const wallS = (performance.now() - t0) / 1000;
  const runJson = buildRunJson({ options: o, outDir, demoWarning, models, plan, report, finalCounts, complete, stages, wallS, batchTokens, shardTokens, reused });
  await writeFileAtomic(join(outDir, RUN_JSON), JSON.stringify(runJson, null, 2) + '\n');
  if (demoWarning) await writeFileAtomic(join(outDir, DEMO_WARNING_FILE), `${demoWarning}\n`);

  if (!complete) {
    session.live?.finished(false, `the run is incomplete: ${report!.failed.length} shard(s) could not be processed (see its log)`);
    const failed = report!.failed.map((f) => `${f.id} (${f.errors.at(-1) ?? 'worker died'})`).join(', ');
    const outOfMemory = report!.failed.some((f) => f.errors.some((e) => OUT_OF_MEMORY.test(e)));
    throw new VirnucproError(`the run is incomplete: ${report!.failed.length} shard(s) could not be processed: ${failed}`, {
      exitCode: ExitCode.incomplete,
      hint:
        (outOfMemory
          ? `the device ran out of memory: lower --batch-tokens (now ${batchTokens}) or --shard-tokens (now ${describeShardSizing(shardTokens)}), use --precision fp16, or run fewer workers per device; then `
          : 'no result files were written; fix the cause and ') + `rerun with --resume -o ${outDir} to compute only the missing shards`,
    });
  }
  log(
    `${finalCounts!.rows} frames scored; ${finalCounts!.virusRecords} of ${counts.records} records called virus (--min-score ${o.minScore}); ` +
      `results in ${outDir} (${wallS.toFixed(1)} s)`,
  );
  const written = await stage('report', () => writeReport({ outDir }));
  log(`report: ${written.path}`);
  session.live?.finished(true, `the run has finished: ${finalCounts!.virusRecords} of ${counts.records} records called virus; report: ${written.path}`);
  log(`time per stage: ${Object.entries(stages).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ')}`);
  if (demoWarning) log(demoWarning);
}

/** What the live dashboard shows of the run before run.json exists (run.json's spelling). */
function liveRunInfo(o: ResolvedPredictOptions, outDir: string): Record<string, unknown> {
  return {
    tool: { name: 'virnucpro', version: TOOL_VERSION },
    input: { path: o.input === STDIN_PATH ? '<stdin>' : resolve(o.input) },
    output_dir: outDir,
    parameters: {
      expected_length: o.expectedLength,
      min_score: o.minScore,
      devices: o.scheduler.devices.map((d) => d.id),
      work_stealing: o.scheduler.coordinator.workStealing,
      gpu_weighted: o.scheduler.coordinator.gpuWeighted,
    },
  };
}

/** What computing a run's pending shards needs, locally or through the queue (queue-compute.ts). */
export interface ComputeRequest {
  options: ResolvedPredictOptions;
  models: ResolvedModels;
  /** The shards without a valid result, to be computed now. */
  pending: ShardDescriptor[];
  plan: RunPlan;
  workDir: WorkDir;
  outDir: string;
  batchTokens: number;
  /** The live web dashboard, fed by the monitoring. */
  live?: LiveDashboard;
}

async function computeShards({ options: o, models, pending, plan, workDir, outDir, batchTokens, live }: ComputeRequest): Promise<RunReport> {
  const devices = o.scheduler.devices;
  const probe = CALIBRATION_PROBE;
  const init: ShardWorkerInit = {
    models: models.dirs,
    threads: o.threads,
    batchTokens,
    saveEmbeddings: o.saveEmbeddings,
    allowCpuFallback: o.allowCpuFallback,
    probeCost: shardCost(
      { dnaTokens: Array(probe.frames).fill(estimateDnaTokens(probe.nucleotide.length)), proteinTokens: Array(probe.frames).fill(probe.protein.length + 2) },
      { dnabert: models.configs.dnabert, esm2: models.configs.esm2 },
    ),
  };
  const dashboard = o.scheduler.dashboard ?? dashboardDefault(devices.length);
  const coordinator = new Coordinator({
    devices,
    ...o.scheduler.coordinator,
    handler: { module: handlerModulePath(), init },
    // With the dashboard, startMonitoring prints the coordinator's log lines above its table instead.
    log: dashboard ? undefined : o.log,
  });
  const totalFrames = pending.reduce((a, s) => a + (s.sequences ?? 0), 0);
  const progress = dashboard ? null : createProgress({ label: 'predict', total: totalFrames, unit: 'items', quiet: o.quiet });
  // A slice job's metrics log is its own: the slice jobs of a run share the output directory (slices.ts).
  const monitoring = startMonitoring(coordinator, {
    devices,
    outDir: o.units ? sliceMetricsDir(outDir, o.units) : outDir,
    dashboard,
    unitLogPath: workDir.path(UNIT_LOG_NAME),
    live,
  });
  // Ctrl-C or kill: the workers stop, the results written so far stay, and the run is resumable (exit 130/143).
  const stopOnSignals = onInterrupt((e) => coordinator.abort(e));
  let framesDone = 0;
  try {
    return await coordinator.run(pending, async (shard, result) => {
      const r = result as ShardWorkerResult;
      const planned = plan.shards[r.shard - 1];
      if (!planned || planned.index !== r.shard || r.frames !== planned.frames) {
        throw new VirnucproError(`${shard.id}: worker returned ${r.frames} rows for shard ${r.shard}, the plan has ${planned?.frames}`);
      }
      await writeShardResult(workDir.path(shardResultName(r.shard)), r);
      framesDone += r.frames;
      progress?.update(framesDone, `${shard.id}`);
      await holdPoint('compute');
    });
  } catch (e) {
    if (e instanceof VirnucproError && (e.exitCode === ExitCode.sigint || e.exitCode === ExitCode.sigterm)) {
      throw new VirnucproError(`${e.message}; ${framesDone} frames of this session are saved`, {
        exitCode: e.exitCode,
        hint: `continue with the same command plus --resume (output directory ${outDir})`,
      });
    }
    throw e;
  } finally {
    stopOnSignals();
    progress?.stop();
    monitoring.stop();
  }
}

/** Everything run.json reports. */
interface RunRecord {
  options: ResolvedPredictOptions;
  outDir: string;
  demoWarning: string | undefined;
  models: ResolvedModels;
  plan: RunPlan;
  /** The scheduler's report; null when every shard was already done. */
  report: RunReport | null;
  /** null when the run is incomplete (no outputs written). */
  finalCounts: FinalizeCounts | null;
  complete: boolean;
  /** Seconds per stage. */
  stages: Record<string, number>;
  wallS: number;
  batchTokens: number;
  shardTokens: ShardSizing;
  /** Shards whose result an interrupted run had already computed. */
  reused: number;
}

function buildRunJson(r: RunRecord): Record<string, unknown> {
  const { options: o, plan, report, models, finalCounts } = r;
  const computeS = r.stages.compute ?? 0;
  return {
    tool: { name: 'virnucpro', version: TOOL_VERSION },
    onnxruntime: { version: ort.env.versions.common, node: process.version },
    ...(r.demoWarning ? { demo_models: true, warning: r.demoWarning } : {}),
    // What the tables never carry (they stay plain TSV): also on stderr and, for the demo models, in DEMO_MODELS_WARNING.txt.
    warnings: r.demoWarning ? [r.demoWarning] : [],
    // As typed (from `virnucpro` on), with any password in a URL argument replaced by ***.
    command_line: o.commandLine ? ['virnucpro', ...redactCommandLine(o.commandLine)] : null,
    complete: r.complete,
    input: {
      path: o.input === STDIN_PATH ? STDIN_PATH : resolve(o.input),
      stdin: o.input === STDIN_PATH,
      format: plan.input.format,
      sha256: plan.fingerprint.inputSha256,
      // The copy of stdin that the viral FASTA and --resume read instead of stdin.
      ...(plan.input.copy ? { copy: `work/${plan.input.copy.name}` } : {}),
    },
    output_dir: r.outDir,
    parameters: {
      expected_length: o.expectedLength,
      min_score: o.minScore,
      min_length: o.minLength,
      batch_tokens: r.batchTokens,
      batch_tokens_auto: o.batchTokens === 'auto',
      // A number (--shard-tokens N) or the growing sizes of auto: { minTokens, maxTokens, growthDivisor } (plan.ts).
      shard_tokens: r.shardTokens,
      shard_tokens_auto: o.shardTokens === 'auto',
      // ONNX Runtime threads of each worker, CPU and GPU alike (-t or its default).
      threads: o.threads,
      precision: models.precision,
      keep_intermediate: o.keepIntermediate,
      save_embeddings: o.saveEmbeddings,
      resume: o.resume,
      devices: o.scheduler.devices.map((d) => d.id),
      // --queue: the Redis URL with its password replaced by *** (cluster/redis-connection.ts); the devices are the workers'.
      queue: o.queue ? { url: o.queue.url.shown, max_bytes: o.queue.maxBytes, attempts: o.queue.attempts } : null,
      work_stealing: o.scheduler.coordinator.workStealing,
      gpu_weighted: o.scheduler.coordinator.gpuWeighted,
      gpu_weights: o.scheduler.coordinator.weights ?? null,
      steal_interval_s: o.scheduler.coordinator.stealIntervalS,
    },
    models: {
      sha256: models.sha256,
      precision: models.precision,
      configs: models.configs,
      sources: models.sources,
    },
    counts: {
      records: plan.counts.records,
      chunks: plan.counts.chunks,
      frames: plan.counts.frames,
      records_without_frames: {
        no_stop_free_frame: plan.counts.recordsWithoutFrames.noStopFreeFrame,
        shorter_than_codon: plan.counts.recordsWithoutFrames.shorterThanCodon,
        empty: plan.counts.recordsWithoutFrames.empty,
        too_short: plan.counts.recordsWithoutFrames.tooShort,
      },
      input_bases: plan.counts.inputBases,
      shards: plan.shards.length,
      shards_reused: r.reused,
      shards_failed: report?.failed.length ?? 0,
      ...(finalCounts
        ? { rows: finalCounts.rows, chunk_verdicts: finalCounts.chunkVerdicts, virus_chunks: finalCounts.virusChunks, virus_records: finalCounts.virusRecords }
        : {}),
    },
    stages_s: Object.fromEntries(Object.entries(r.stages).map(([k, v]) => [k, round(v)])),
    wall_s: round(r.wallS),
    throughput: {
      frames_per_s: computeS > 0 && report ? round(report.devices.reduce((a, d) => a + d.sequences, 0) / computeS) : null,
      tokens_per_s: computeS > 0 && report ? round(report.devices.reduce((a, d) => a + d.tokens, 0) / computeS) : null,
    },
    makespan_s: report ? round(report.makespan_s) : 0,
    // Each device's host: this one for local devices, the worker's (--name) in queue mode.
    devices: (report?.devices ?? []).map((d) => ({ host: hostname(), ...d })),
    steals: report?.steals ?? [],
    // Shards run twice at the tail (--work-stealing): which devices, and whose copy delivered.
    backups: report?.backups ?? [],
    failed_shards: report?.failed ?? [],
    outputs: r.complete ? [...Object.values(OUTPUT_FILES).filter((f) => f !== OUTPUT_FILES.embeddings || o.saveEmbeddings), virusFastaName(o.input), REPORT_FILE] : [],
  };
}

/**
 * `--batch-tokens auto`: one value for the whole run, from its devices' memory (batch-size.ts says
 * why not one per device). A resumed run keeps the value the interrupted run planned with, so that
 * its results stay identical even when it resumes on other devices.
 */
async function autoBatchTokensFor(o: ResolvedPredictOptions, models: ResolvedModels, outDir: string, log: Log): Promise<number> {
  if (o.resume) {
    const found = await new WorkDir(outDir).readPlan();
    if (found.state === 'found') return found.plan.fingerprint.batchTokens;
  }
  const pick = autoBatchTokens(o.scheduler.devices, { esm2: models.configs.esm2, dnabert: models.configs.dnabert, precision: models.precision }, sequenceBoundsForChunk(o.expectedLength));
  const d = pick.limitedBy;
  const why = d.kind === 'cuda' ? `what ${d.id} (${d.name}, ${((d.memoryMiB ?? 0) / 1024).toFixed(1)} GiB) holds` : `the default: ${d.id} is one of the run's devices`;
  log(`--batch-tokens auto: ${pick.tokens} padded tokens per batch (${why})`);
  if (!pick.fits) log(`warning: the models (${models.precision}) may not fit in the memory of ${d.id}; use --precision fp16 or a larger GPU if the run runs out of memory`);
  return pick.tokens;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
