/**
 * Scatter/gather for workflow engines (Slurm job arrays, Snakemake, Nextflow; workflows/ in the repository):
 *
 *   plan     `predict INPUT ... --plan-only`: plans the run (work/plan.json, records.tsv, shard inputs) and
 *            exits, computing nothing;
 *   scatter  N independent jobs sharing the output directory, job I running `predict ... --resume --units I/N`:
 *            each computes only the shards of slice I and writes their results (work/shard-NNNNNN.result),
 *            never the outputs;
 *   gather   `predict ... --resume`: computes whatever shard is still missing and writes the outputs.
 *
 * Slices are contiguous runs of shards in plan order, balanced on the plan's estimated compute cost (FLOPs,
 * the scheduler's cost model, which counts ESM-2's attention): shard k goes to the slice its cost midpoint
 * falls in when the total is cut into N equal parts, so slices differ by at most about one shard's cost.
 * They are a pure function of plan.json, which every job reads, so every job on every host agrees on them;
 * a slice beyond the shard count is simply empty. Every shard is in exactly one slice of a given N.
 *
 * Locks (outdir.ts): a slice job holds `.virnucpro.units-I-of-N.lock`, not the run's exclusive
 * `.virnucpro.lock`, so the N jobs run at once; the same slice twice at once is refused. A run that plans or
 * writes the outputs (any predict without --units) holds the exclusive lock, refuses to start while a live
 * slice lock exists, and a slice job refuses to start while the exclusive lock is held: each side takes its
 * own lock first and looks for the other's second, so of two that start together at least one backs off.
 *
 * Writes: a slice job writes only shard results, each atomically (a temporary name, then rename), and the
 * metrics log of its own devices in work/units-I-of-N/. Two jobs that compute the same shard (overlapping
 * slicings such as 1/2 and 1/3) each rename a complete result over the other; both are valid and identical
 * (a shard's numbers depend only on its input and the run's parameters), so the duplicate costs only
 * time. A slice job repairs nothing in the shared work folder (the others are reading it) and removes no
 * temporaries (they may be another job's writes in flight): the worker checks each shard input against
 * plan.json's sha256 before computing it, so a damaged input fails its shard (exit code 3), and the final
 * `--resume`, which runs alone, repairs the work folder and recomputes what is missing.
 */
import { join } from 'node:path';
import type { RunReport } from '../scheduler/coordinator.js';
import { ExitCode, UsageError, VirnucproError } from '../util/errors.js';
import type { PlannedShard, PlanOnDisk, RunPlan } from './workdir.js';

/** Slice `index` (1-based) of `count` equal slices of a planned run's shards. */
export interface UnitSlice {
  index: number;
  count: number;
}

/** `--units I/N` (I from 1 to N), as a Slurm array task writes it: `--units ${SLURM_ARRAY_TASK_ID}/N`. */
export function parseUnitSlice(spec: string): UnitSlice {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(spec);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1 || index < 1 || index > count) {
    throw new UsageError(`--units must be I/N with whole numbers 1 <= I <= N (slice I of N), got '${spec}'`, {
      hint: 'e.g. --units 2/8 computes the second of 8 slices; slices count from 1 (a Slurm array for this is --array=1-N, not 0-based)',
    });
  }
  return { index, count };
}

export function describeSlice(s: UnitSlice): string {
  return `${s.index}/${s.count}`;
}

/** The lock a slice job holds in the output directory. */
export function sliceLockName(s: UnitSlice): string {
  return `.virnucpro.units-${s.index}-of-${s.count}.lock`;
}

const SLICE_LOCK = /^\.virnucpro\.units-(\d+)-of-(\d+)\.lock$/;

/** The slice a lock file name belongs to, or null when it is not a slice lock. */
export function sliceOfLockName(name: string): UnitSlice | null {
  const m = SLICE_LOCK.exec(name);
  return m ? { index: Number(m[1]), count: Number(m[2]) } : null;
}

/** Where a slice job writes its metrics log (its own devices; the output directory's log belongs to the gather). */
export function sliceMetricsDir(outDir: string, s: UnitSlice): string {
  return join(outDir, 'work', `units-${s.index}-of-${s.count}`);
}

/**
 * The slice (1..count) of every shard, in plan order: contiguous, balanced on planned cost (see above). With at
 * least as many shards as slices, no slice is empty: a cut that would leave one empty (a shard costing more than
 * a slice's share) moves by the fewest shards that give each slice one.
 */
export function sliceNumbers(shards: readonly Pick<PlannedShard, 'cost'>[], count: number): number[] {
  const total = shards.reduce((a, s) => a + s.cost, 0);
  const costsUsable = shards.every((s) => Number.isFinite(s.cost) && s.cost >= 0) && Number.isFinite(total) && total > 0;
  let before = 0;
  const byCost = shards.map((s, k) => {
    // Without usable costs (a plan.json edited by hand), slices are equal runs of shards by count.
    const position = costsUsable ? (before + s.cost / 2) / total : (k + 0.5) / shards.length;
    before += s.cost;
    return Math.min(count, Math.floor(position * count) + 1);
  });
  if (shards.length < count) return byCost;
  // starts[i]: the first shard of slice i + 1; made strictly increasing and within the shards.
  const starts = Array.from({ length: count }, (_, i) => (i === 0 ? 0 : byCost.findIndex((n) => n > i)));
  for (let i = 1; i < count; i++) starts[i] = Math.max(starts[i] < 0 ? shards.length : starts[i], starts[i - 1] + 1);
  for (let i = count - 1, next = shards.length; i >= 0; next = starts[i], i--) starts[i] = Math.min(starts[i], next - 1);
  let slice = 0;
  return shards.map((_, k) => {
    while (slice + 1 < count && k >= starts[slice + 1]) slice++;
    return slice + 1;
  });
}

/** The shards of slice `s`, in plan order. */
export function shardsOfSlice<T extends Pick<PlannedShard, 'cost'>>(shards: readonly T[], s: UnitSlice): T[] {
  const slices = sliceNumbers(shards, s.count);
  return shards.filter((_, k) => slices[k] === s.index);
}

/** Refuses a slice job in a directory without a usable plan: slice jobs never plan (they would all plan at once). */
export function assertSlicePlanned(found: PlanOnDisk, outDir: string, s: UnitSlice): asserts found is Extract<PlanOnDisk, { state: 'found' }> {
  if (found.state === 'found') return;
  const what = found.state === 'missing' ? 'it holds no plan (work/plan.json)' : `its work/plan.json is damaged (${found.reason})`;
  throw new UsageError(`cannot compute slice ${describeSlice(s)} in ${outDir}: ${what}`, {
    hint:
      found.state === 'missing'
        ? 'plan the run first: the same command with --plan-only instead of --units, then start the slice jobs (check -o)'
        : 'plan it again: the same command with --plan-only --resume instead of --units, then start the slice jobs again',
  });
}

/** What a slice job does, for the log. */
export function describeSliceWork(shards: readonly Pick<PlannedShard, 'index' | 'cost'>[], plan: RunPlan, s: UnitSlice): string {
  if (shards.length === 0) return `slice ${describeSlice(s)}: no shard (the plan has ${plan.shards.length}, fewer than ${s.count} slices); nothing to do`;
  const cost = shards.reduce((a, x) => a + x.cost, 0);
  const total = plan.shards.reduce((a, x) => a + x.cost, 0);
  const share = total > 0 ? ` (${((100 * cost) / total).toFixed(1)}% of the planned compute)` : '';
  return `slice ${describeSlice(s)}: shards ${shards[0].index}-${shards.at(-1)!.index}, ${shards.length} of ${plan.shards.length}${share}`;
}

/** A slice job whose shards could not all be computed: exit code 3, as a run; its results so far stay. */
export function sliceIncomplete(report: RunReport, s: UnitSlice, outDir: string): VirnucproError {
  const failed = report.failed.map((f) => `${f.id} (${f.errors.at(-1) ?? 'worker died'})`).join(', ');
  return new VirnucproError(`slice ${describeSlice(s)} is incomplete: ${report.failed.length} shard(s) could not be processed: ${failed}`, {
    exitCode: ExitCode.incomplete,
    hint: `the other shards' results are saved in ${join(outDir, 'work')}; fix the cause and rerun this job (it computes only the missing shards), or let the final --resume compute them`,
  });
}

export interface PlanOnlyReport {
  plan: RunPlan;
  outDir: string;
  /** The arguments as given (after the program name), to print the next commands; absent: a generic form. */
  commandLine?: readonly string[];
}

/** What `--plan-only` prints: the number of units of work and the commands of the next steps. */
export function planOnlyLines({ plan, outDir, commandLine }: PlanOnlyReport): string[] {
  const base = commandLine ? nextCommandBase(commandLine, outDir) : `virnucpro predict INPUT <the same flags> -o ${shellWord(outDir)}`;
  const n = plan.shards.length;
  return [
    `--plan-only: ${n} unit(s) of work (shards) planned in ${join(outDir, 'work', 'plan.json')}; nothing computed`,
    `next, N jobs sharing ${outDir} (any N; slices beyond ${n} are empty), job I of N (I = 1..N) running:`,
    `  ${base} --resume --units I/N`,
    `then, once they all succeeded, the outputs (any shard still missing is computed then):`,
    `  ${base} --resume`,
  ];
}

/**
 * The user's command without the flags of the plan step (--plan-only, --force, --resume), with the output
 * directory spelled out when the default was used (the jobs may start elsewhere).
 */
function nextCommandBase(args: readonly string[], outDir: string): string {
  const kept = args.filter((a) => a !== '--plan-only' && a !== '--force' && a !== '--resume');
  const outDirGiven = args.some((a) => a === '-o' || a === '--out-dir' || a.startsWith('--out-dir=') || (a.startsWith('-o') && a.length > 2));
  if (!outDirGiven) kept.push('-o', outDir);
  return ['virnucpro', ...kept].map(shellWord).join(' ');
}

/** One word for a POSIX shell: as it is when it is plain, else single-quoted. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
