/**
 * The work folder of a `predict` run (`<out>/work/`), which is what makes a run
 * resumable:
 *
 *   plan.json              written once, atomically, after the input was cut into shards:
 *                          the run's fingerprint, the shard list (with each shard input's
 *                          sha256), the counts, and the sha256 and row count of records.tsv
 *   records.tsv            one line per input record (index, id, length, chunks, frames, status)
 *   stdin.copy             when the input was stdin: a copy of it, written while it was read
 *                          (io/input-copy.ts), which the outputs and a resumed run read instead
 *   shard-NNNNNN.tsv       shard inputs (see shard-files.ts)
 *   shard-NNNNNN.result    shard results, each written atomically when its shard finishes
 *
 * A run that died before plan.json exists is planned again from scratch (planning is
 * deterministic, so it produces the same shards). After that, a shard counts as done
 * exactly when its result file validates, so nothing is lost or computed twice.
 *
 * Damage (a file of the work folder edited, truncated or deleted by hand or by a
 * failing disk) is never used silently. On `--resume`, after the fingerprint matched
 * (same input bytes, same parameters):
 *   - plan.json unreadable: planned again from scratch, every result discarded (without
 *     the plan nothing says which shard a result belongs to);
 *   - records.tsv or shard inputs missing or not matching plan.json's sha256: logged, then
 *     planned again from the input into the same folder, which rewrites the same files.
 *     Results of shards whose input was damaged are deleted first (they may have been
 *     computed from the damaged file); the others are kept, as long as the new plan has the
 *     same shards (otherwise every result is discarded). A re-plan never shortens anything:
 *     it is the whole input again.
 * When the outputs are written, records.tsv (sha256 and row count) and each shard input
 * are checked again as they are read, so damage done while the run was computing stops
 * the run with exit code 2 before any output appears; `--resume` then repairs it as above.
 */
import { readFile, rm, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError, UsageError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { sha256File } from '../util/hash.js';
import { STDIN_PATH } from '../io/paths.js';
import type { SequenceFormat } from '../io/sequences.js';
import type { ShardSizing } from './plan.js';
import { shardInputName, shardResultName } from './shard-files.js';

/**
 * 2: records.tsv checksummed, shards cut inside records; 3: counts.inputBases (was inputBytes);
 * 4: shard sizes grow with the input by default (plan.ts), shardTokens may be that rule;
 * 5: minLength in the fingerprint, the too_short status, the input's format and stdin copy.
 * A plan of another format is not resumed.
 */
export const PLAN_FORMAT_VERSION = 5;

/** The copy of an input read from stdin, in the work folder. */
export const STDIN_COPY = 'stdin.copy';

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
  /** A fixed budget (`--shard-tokens N`) or the growing sizes of `auto` with their constants (plan.ts). */
  shardTokens: ShardSizing;
  /** `--min-length`: records shorter than this are not scored (0: all are). */
  minLength: number;
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
  recordsWithoutFrames: { empty: number; shorterThanCodon: number; noStopFreeFrame: number; tooShort: number };
  /** Sequence letters over all records (headers and line breaks not counted). */
  inputBases: number;
}

/** What records.tsv must be when it is read back. */
export interface RecordsFile {
  sha256: string;
  /** Data rows (the header line not counted); equals counts.records. */
  rows: number;
}

/** What the plan knows of its input beyond its checksum. */
export interface PlannedInput {
  format: SequenceFormat;
  /** Set when the input was stdin: the copy in the work folder (STDIN_COPY) and its sha256. */
  copy?: { name: string; sha256: string };
}

export interface RunPlan {
  fingerprint: RunFingerprint;
  shards: PlannedShard[];
  counts: PlanCounts;
  recordsFile: RecordsFile;
  input: PlannedInput;
}

/** The input as a later stage reads it again, with the sha256 its bytes must have (WorkDir.rereadableInput). */
export interface RereadableInput {
  path: string;
  sha256: string;
}

/** plan.json as found on disk. */
export type PlanOnDisk = { state: 'missing' } | { state: 'unreadable'; reason: string } | { state: 'found'; plan: RunPlan };

/** A file of the work folder that is not what plan.json says it is. */
export interface WorkDamage {
  file: string;
  /** Set for a shard input. */
  shard?: number;
  reason: 'missing' | 'modified';
}

const RESULT_FILE = /^shard-(\d+)\.result$/;
const SHARD_FILE = /^shard-(\d+)\.(tsv|result)$/;

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

  async readPlan(): Promise<PlanOnDisk> {
    let text: string;
    try {
      text = await readFile(this.planPath, 'utf8');
    } catch {
      return { state: 'missing' };
    }
    let plan: RunPlan;
    try {
      plan = JSON.parse(text) as RunPlan;
    } catch {
      // plan.json is written atomically, so this is outside damage.
      return { state: 'unreadable', reason: 'not valid JSON' };
    }
    if (typeof plan?.fingerprint !== 'object' || plan.fingerprint === null) return { state: 'unreadable', reason: 'no fingerprint' };
    // Another format: returned as found, so that the fingerprint check names the difference.
    if (plan.fingerprint.planFormat !== PLAN_FORMAT_VERSION) return { state: 'found', plan };
    const shardsOk =
      Array.isArray(plan.shards) &&
      plan.shards.every((s, i) => s?.index === i + 1 && Number.isInteger(s.frames) && typeof s.inputSha256 === 'string');
    if (!shardsOk) return { state: 'unreadable', reason: 'malformed shard list' };
    if (typeof plan.recordsFile?.sha256 !== 'string' || plan.recordsFile.rows !== plan.counts?.records) {
      return { state: 'unreadable', reason: 'malformed records.tsv entry' };
    }
    if (typeof plan.input?.format !== 'string' || (plan.input.copy !== undefined && typeof plan.input.copy.sha256 !== 'string')) {
      return { state: 'unreadable', reason: 'malformed input entry' };
    }
    return { state: 'found', plan };
  }

  /** The plan's files (records.tsv, every shard input) that are missing or differ from their recorded sha256. */
  async findDamage(plan: RunPlan): Promise<WorkDamage[]> {
    const damage: WorkDamage[] = [];
    const check = async (file: string, sha256: string, shard?: number): Promise<void> => {
      let actual: string;
      try {
        actual = await sha256File(this.path(file));
      } catch {
        damage.push({ file, shard, reason: 'missing' });
        return;
      }
      if (actual !== sha256) damage.push({ file, shard, reason: 'modified' });
    };
    await check('records.tsv', plan.recordsFile.sha256);
    for (const s of plan.shards) await check(shardInputName(s.index), s.inputSha256, s.index);
    return damage;
  }

  /** Deletes the result files of the given shards, or every result file. */
  async removeResults(shards: Iterable<number> | 'all'): Promise<void> {
    const names = shards === 'all' ? (await this.names()).filter((n) => RESULT_FILE.test(n)) : [...shards].map(shardResultName);
    await Promise.all(names.map((n) => rm(this.path(n), { force: true })));
  }

  /** Deletes shard inputs and results numbered above `count` (left by a plan that had more shards). */
  async removeShardsAbove(count: number): Promise<void> {
    const stale = (await this.names()).filter((n) => Number(SHARD_FILE.exec(n)?.[1] ?? 0) > count);
    await Promise.all(stale.map((n) => rm(this.path(n), { force: true })));
  }

  private async names(): Promise<string[]> {
    return readdir(this.dir).catch(() => [] as string[]);
  }

  async writePlan(plan: RunPlan): Promise<void> {
    await writeFileAtomic(this.planPath, JSON.stringify(plan, null, 1) + '\n');
  }

  /** Removes everything (a fresh plan is about to be written). */
  async reset(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
    await mkdir(this.dir, { recursive: true });
  }

  /**
   * The input as a later stage reads it again (the viral FASTA, a re-plan, the intermediate files),
   * with the sha256 its bytes must have: the file the user gave, or for stdin the copy in this folder.
   */
  rereadableInput(plan: RunPlan, input: string): RereadableInput {
    if (input === STDIN_PATH && plan.input.copy) return { path: this.path(plan.input.copy.name), sha256: plan.input.copy.sha256 };
    return { path: input, sha256: plan.fingerprint.inputSha256 };
  }

  /**
   * `--resume` with stdin as the input: stdin is never read again; the copy the interrupted run
   * saved stands in for it, once checked against its sha256. Refused clearly when there is none.
   */
  async assertStdinCopy(plan: RunPlan, outDir: string): Promise<void> {
    const copy = plan.input.copy;
    if (!copy) {
      throw new UsageError(`cannot resume the run in ${outDir} from stdin ('-'): that run read its input from a file, not from stdin`, {
        hint: 'resume with the input file of the interrupted run',
      });
    }
    const actual = await sha256File(this.path(copy.name)).catch(() => null);
    if (actual !== copy.sha256) {
      throw new InputError(
        `cannot resume the run in ${outDir}: its input came from stdin, and the copy saved in ${this.path(copy.name)} is ${actual === null ? 'missing' : 'damaged (checksum mismatch)'}`,
        { hint: 'start over: pipe the input again, with --force instead of --resume' },
      );
    }
  }

  /** Removes leftover temporary files from a run that was killed mid-write. */
  async removeTemporaries(): Promise<void> {
    const names = await this.names();
    await Promise.all(names.filter((n) => n.endsWith('.tmp')).map((n) => rm(join(this.dir, n), { force: true })));
  }
}

/** Human-readable list of the fingerprint fields that differ (values compared as JSON: shardTokens may be an object). */
export function fingerprintDifferences(a: RunFingerprint, b: RunFingerprint): string[] {
  const out: string[] = [];
  const show = (v: unknown): string => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));
  for (const key of Object.keys(a) as Array<keyof RunFingerprint>) {
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) out.push(`${key}: ${show(a[key])} (interrupted run) vs ${show(b[key])} (now)`);
  }
  return out;
}

/** Refuses to resume a run whose input or parameters changed. */
export function assertResumable(previous: RunFingerprint, now: RunFingerprint, outDir: string): void {
  const diffs = fingerprintDifferences(previous, now);
  if (diffs.length === 0) return;
  const what =
    previous.planFormat !== now.planFormat
      ? 'it was planned by another version of virnucpro'
      : diffs.some((d) => d.startsWith('inputSha256'))
        ? 'the input file changed since it was started'
        : 'the parameters changed since it was started';
  throw new UsageError(`cannot resume the run in ${outDir}: ${what}:\n  ${diffs.join('\n  ')}`, {
    hint: 'rerun with the original input and parameters, or use --force to start over (discarding the finished shards)',
  });
}

/** Thrown when an output directory is in the way. */
export function outputDirExists(outDir: string): InputError {
  return new InputError(`output directory ${outDir} already exists`, {
    hint: 'use --resume to continue an interrupted run there, --force to overwrite it, or -o to choose another directory',
  });
}

/** A file of the work folder changed while the run was using it. */
export function workFolderDamaged(dir: string, what: string): InputError {
  return new InputError(`work folder ${dir} is damaged: ${what}; no output was written`, {
    hint: 'rerun the same command with --resume: it repairs the work folder and recomputes only the shards affected',
  });
}

/** One line listing damaged files (the first few). */
export function describeDamage(damage: readonly WorkDamage[]): string {
  const shown = damage.slice(0, 5).map((d) => `${d.file} ${d.reason}`);
  return shown.join(', ') + (damage.length > 5 ? `, and ${damage.length - 5} more` : '');
}
