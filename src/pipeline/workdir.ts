/**
 * The work folder of a `predict` run (`<out>/work/`), which is what makes a run
 * resumable:
 *
 *   plan.json              written once, atomically, after the input was cut into shards:
 *                          the run's fingerprint, the shard list and the counts
 *   records.tsv            one line per input record (index, id, length, chunks, frames)
 *   shard-NNNNNN.tsv       shard inputs (see shard-files.ts)
 *   shard-NNNNNN.result    shard results, each written atomically when its shard finishes
 *
 * A run that died before plan.json exists is planned again from scratch (planning is
 * deterministic, so it produces the same shards). After that, a shard counts as done
 * exactly when its result file validates, so nothing is lost or computed twice.
 */
import { readFile, rm, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError, UsageError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';

export const PLAN_FORMAT_VERSION = 1;

/**
 * Everything that changes the numbers a run produces. `--resume` refuses when any of
 * it differs from the interrupted run; threads, devices and scheduling flags are not
 * part of it (they never change results).
 */
export interface RunFingerprint {
  planFormat: number;
  inputSha256: string;
  expectedLength: number;
  /** Checksum of the prepared model bundle (its manifest), which covers weights, configs and precision. */
  modelsSha256: string;
  precision: string;
  batchTokens: number;
  shardTokens: number;
}

export interface PlannedShard {
  index: number;
  frames: number;
  /** First and last input record index with a frame in this shard. */
  firstRecord: number;
  lastRecord: number;
  /** Token counts, used by the scheduler's cost model. */
  nucleotideTokens: number;
  proteinTokens: number;
  /** Estimated compute, in FLOPs. */
  cost: number;
  inputSha256: string;
}

export interface PlanCounts {
  records: number;
  chunks: number;
  frames: number;
  /** Records that produced no frame at all, by reason. */
  recordsWithoutFrames: { empty: number; shorterThanCodon: number; noStopFreeFrame: number };
  inputBytes: number;
}

export interface RunPlan {
  fingerprint: RunFingerprint;
  shards: PlannedShard[];
  counts: PlanCounts;
}

export class WorkDir {
  readonly dir: string;
  constructor(outDir: string) {
    this.dir = join(outDir, 'work');
  }
  get planPath(): string {
    return join(this.dir, 'plan.json');
  }
  get recordsPath(): string {
    return join(this.dir, 'records.tsv');
  }
  path(name: string): string {
    return join(this.dir, name);
  }

  async readPlan(): Promise<RunPlan | null> {
    let text: string;
    try {
      text = await readFile(this.planPath, 'utf8');
    } catch {
      return null;
    }
    try {
      return JSON.parse(text) as RunPlan;
    } catch {
      // plan.json is written atomically, so this is outside damage: plan again.
      return null;
    }
  }

  async writePlan(plan: RunPlan): Promise<void> {
    await writeFileAtomic(this.planPath, JSON.stringify(plan, null, 1) + '\n');
  }

  /** Removes everything (a fresh plan is about to be written). */
  async reset(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
    await mkdir(this.dir, { recursive: true });
  }

  /** Removes leftover temporary files from a run that was killed mid-write. */
  async removeTemporaries(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return;
    }
    await Promise.all(names.filter((n) => n.endsWith('.tmp')).map((n) => rm(join(this.dir, n), { force: true })));
  }
}

/** Human-readable list of the fingerprint fields that differ. */
export function fingerprintDifferences(a: RunFingerprint, b: RunFingerprint): string[] {
  const out: string[] = [];
  for (const key of Object.keys(a) as Array<keyof RunFingerprint>) {
    if (a[key] !== b[key]) out.push(`${key}: ${String(a[key])} (interrupted run) vs ${String(b[key])} (now)`);
  }
  return out;
}

/** Refuses to resume a run whose input or parameters changed. */
export function assertResumable(previous: RunFingerprint, now: RunFingerprint, outDir: string): void {
  const diffs = fingerprintDifferences(previous, now);
  if (diffs.length === 0) return;
  const what = diffs.some((d) => d.startsWith('inputSha256')) ? 'the input file changed' : 'the parameters changed';
  throw new UsageError(`cannot resume the run in ${outDir}: ${what} since it was started:\n  ${diffs.join('\n  ')}`, {
    hint: 'rerun with the original input and parameters, or use --force to start over (discarding the finished shards)',
  });
}

/** Thrown when an output directory is in the way. */
export function outputDirExists(outDir: string): InputError {
  return new InputError(`output directory ${outDir} already exists`, {
    hint: 'use --resume to continue an interrupted run there, --force to overwrite it, or -o to choose another directory',
  });
}
