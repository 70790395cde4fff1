/**
 * The output directory of `virnucpro predict`, and the promise that a run never
 * loses a file that is not its own:
 *
 * - A directory is ours when it holds the marker `.virnucpro`, written when a run
 *   starts (or, from versions before the marker, a `work/plan.json`). Only in such a
 *   directory does any file count as ours; everything else belongs to someone else.
 * - Without --resume or --force, an existing directory is used only when nothing in
 *   it is worth keeping: it is empty, or holds a run of ours that died before it
 *   finished planning.
 * - --resume continues a run of ours and refuses a directory that holds none.
 * - --force removes only what a run writes (OUR_NAMES, the --keep-intermediate files
 *   the marker lists, our temporaries), and only once the input and models were
 *   checked (`claim`, called after them). It refuses `/`, the current and the home
 *   directory or a parent of them, a directory holding the input file, and a
 *   directory with anyone else's files (it names them).
 * - A run holds `.virnucpro.lock` (util/lock.ts) from `claim` to `release`: a second
 *   run into the same directory is refused with the holder's pid and host.
 * - A slice job (`--units I/N`, slices.ts) holds `.virnucpro.units-I-of-N.lock` instead,
 *   so the slice jobs of a run work at once; a run holding `.virnucpro.lock` and a
 *   slice job never do (each refuses while the other's lock is live).
 *
 * `check` only looks (it runs before the models are resolved, so mistakes surface
 * at once); `claim` looks again under the lock, since the directory may have changed.
 */
import { access, mkdir, readdir, readFile, realpath, rm, rmdir, stat } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { fastaStem } from '../io/paths.js';
import { translateOutputPaths } from './translate-files.js';
import { METRICS_LOG_NAME } from '../monitor/metrics-log.js';
import { writeFileAtomic } from '../util/atomic.js';
import { InputError, ResourceError, UsageError, VirnucproError, isSystemError, userErrorFromSystemError } from '../util/errors.js';
import { acquireLock, describeOwner, isStale, readLockOwner, type HeldLock, type LockOwner } from '../util/lock.js';
import { TOOL_VERSION } from '../util/version.js';
import { OUTPUT_FILES, virusFastaName } from './finalize.js';
import { REPORT_FILE } from '../report/generate.js';
import { outputDirExists, WorkDir } from './workdir.js';
import { describeSlice, sliceLockName, sliceOfLockName, type UnitSlice } from './slices.js';

export const MARKER_FILE = '.virnucpro';
export const LOCK_FILE = '.virnucpro.lock';
export const RUN_JSON = 'run.json';
export const DEMO_WARNING_FILE = 'DEMO_MODELS_WARNING.txt';
const WORK = 'work';

/** Every name a run may write in its output directory, besides those named after the input (the marker lists them). */
const OUR_NAMES: ReadonlySet<string> = new Set([...Object.values(OUTPUT_FILES), REPORT_FILE, RUN_JSON, DEMO_WARNING_FILE, METRICS_LOG_NAME, WORK, MARKER_FILE, LOCK_FILE]);

/** How many unknown files a refusal names before it only counts the rest. */
const NAMES_SHOWN = 5;

interface Marker {
  tool: 'virnucpro';
  about: string;
  version: string;
  created: string;
  /** The files named after the input that runs here wrote: `<stem>_virus.fna` and the --keep-intermediate files. */
  intermediateFiles: string[];
}

export interface OutDirRequest {
  /** `-o` as given; undefined means `<input stem>_virnucpro` in the current directory. */
  outDir?: string;
  input: string;
  expectedLength: number;
  force?: boolean;
  resume?: boolean;
  keepIntermediate?: boolean;
  /** A slice job (`--units I/N`, slices.ts): takes its slice's lock, not the exclusive one, and writes no marker. */
  units?: UnitSlice;
}

/** A slice job's lock (slices.ts) with its owner. */
interface SliceLock {
  name: string;
  owner: LockOwner;
}

/** What a directory holds, sorted into our entries and everyone else's. */
interface Contents {
  /** Marker or a plan of an older version: the directory holds a run of ours. */
  ownedByUs: boolean;
  marker: Marker | null;
  hasPlan: boolean;
  ours: string[];
  foreign: string[];
  /** The owner of a lock that is not stale. */
  lockHolder: LockOwner | null;
  /** Slice jobs' locks that are not stale. */
  sliceHolders: SliceLock[];
}

export class OutputDirectory {
  readonly dir: string;
  private lock: HeldLock | null = null;
  /** From `claim` on, a write that fails without naming its file was one of ours in `dir`. */
  private writing = false;

  constructor(private readonly req: OutDirRequest) {
    if (req.outDir !== undefined && req.outDir.trim() === '') {
      throw new UsageError('the output directory (-o) is an empty string', {
        hint: `an unset shell variable? Give a directory name, or leave -o out for ${fastaStem(req.input)}_virnucpro`,
      });
    }
    this.dir = resolve(req.outDir ?? `${fastaStem(req.input)}_virnucpro`);
  }

  /** Refuses, before any work, a directory this run may not use; changes nothing on disk. */
  async check(): Promise<void> {
    if (this.req.force) await assertForceMayClear(this.dir, this.req.input);
    if (!(await assertWritablePlace(this.dir))) return;
    const contents = await inspect(this.dir);
    if (contents.lockHolder) throw this.req.units ? sliceBlocked(this.dir, contents.lockHolder) : inUse(this.dir, contents.lockHolder);
    if (!this.req.units && contents.sliceHolders.length > 0) throw slicesRunning(this.dir, contents.sliceHolders);
    const units = this.req.units;
    const sameSlice = units && contents.sliceHolders.find((s) => s.name === sliceLockName(units));
    if (units && sameSlice) throw sliceTwice(this.dir, units, sameSlice.owner);
    assertUsable(this.dir, contents, this.req);
  }

  /**
   * Creates the directory and takes it for this run: locks it, removes our previous
   * outputs under --force, and writes the marker (which also proves the directory
   * writable before any real work).
   */
  async claim(log: (line: string) => void): Promise<void> {
    this.writing = true;
    let created: string | undefined;
    try {
      created = await mkdir(this.dir, { recursive: true });
    } catch (err) {
      throw outputDirError(this.dir, err);
    }
    try {
      await (this.req.units ? this.takeSlice(this.req.units, log) : this.take(log));
    } catch (err) {
      // A directory this run created and could not use (a full disk, another run) is not left behind.
      this.release();
      if (created !== undefined) await rmdir(this.dir).catch(() => undefined);
      throw err;
    }
  }

  private async take(log: (line: string) => void): Promise<void> {
    const attempt = await acquireLock(join(this.dir, LOCK_FILE));
    if (!attempt.acquired) throw inUse(this.dir, attempt.holder);
    this.lock = attempt.lock;
    if (attempt.tookOverFrom) log(`taking over the lock of an earlier run in ${this.dir} that is no longer running (${describeOwner(attempt.tookOverFrom)})`);
    // Slice jobs still at work (a slice job that starts now sees our lock and backs off).
    const slices = await sliceLocks(this.dir);
    if (slices.live.length > 0) throw slicesRunning(this.dir, slices.live);
    for (const s of slices.stale) {
      log(`removing the lock of a slice job in ${this.dir} that is no longer running (${s.name}: ${describeOwner(s.owner)})`);
      await rm(join(this.dir, s.name), { force: true });
    }
    const contents = await inspect(this.dir);
    assertUsable(this.dir, contents, this.req);
    if (this.req.force) {
      const previous = contents.ours.filter((n) => n !== LOCK_FILE && n !== MARKER_FILE);
      if (previous.length > 0) {
        log(`--force: removing virnucpro's previous outputs in ${this.dir}: ${previous.sort().join(', ')}`);
        await Promise.all(previous.map((n) => rm(join(this.dir, n), { recursive: true, force: true })));
      }
    }
    const intermediates = new Set([...(contents.marker?.intermediateFiles ?? []), ...intermediateNames(this.dir, this.req), virusFastaName(this.req.input)]);
    const marker: Marker = {
      tool: 'virnucpro',
      about: 'virnucpro predict writes its outputs here; --force removes only the files virnucpro wrote, never other files',
      version: TOOL_VERSION,
      created: contents.marker?.created ?? new Date().toISOString(),
      intermediateFiles: [...intermediates].sort(),
    };
    await writeFileAtomic(join(this.dir, MARKER_FILE), JSON.stringify(marker, null, 1) + '\n');
  }

  /**
   * A slice job's claim: its slice's lock, while no run holds the exclusive one. It writes no marker (the
   * plan step did) and removes nothing: the other slice jobs are at work in the same directory.
   */
  private async takeSlice(units: UnitSlice, log: (line: string) => void): Promise<void> {
    const attempt = await acquireLock(join(this.dir, sliceLockName(units)));
    if (!attempt.acquired) throw sliceTwice(this.dir, units, attempt.holder);
    this.lock = attempt.lock;
    if (attempt.tookOverFrom) log(`taking over the lock of an earlier job for slice ${describeSlice(units)} in ${this.dir} that is no longer running (${describeOwner(attempt.tookOverFrom)})`);
    const contents = await inspect(this.dir);
    if (contents.lockHolder) throw sliceBlocked(this.dir, contents.lockHolder);
    assertUsable(this.dir, contents, this.req);
  }

  /** Leftover temporary files of our killed writes (never anyone else's). */
  async removeTemporaries(): Promise<void> {
    const marker = await readMarker(this.dir);
    const known = new Set(marker?.intermediateFiles ?? []);
    const names = await readdir(this.dir).catch(() => [] as string[]);
    await Promise.all(names.filter((n) => isOurTemporary(n, known)).map((n) => rm(join(this.dir, n), { force: true })));
  }

  /** Ends the claim: removes the lock (idempotent). */
  release(): void {
    this.lock?.release();
    this.lock = null;
  }

  /**
   * The error a user should see. Node reports a failed write on an open file without
   * its path; once the directory is claimed, such writes can only have been ours there.
   */
  explain(err: unknown): unknown {
    return userErrorFromSystemError(err, this.writing ? { dir: this.dir } : {}) ?? err;
  }
}

/**
 * Why --force may not clear `dir`, or null. Paths are compared after resolving
 * symbolic links, so no spelling of a path gets around the check.
 */
export async function forceRefusal(dir: string, input: string): Promise<string | null> {
  const [d, inputPath, cwd, home] = await Promise.all([dir, resolve(input), process.cwd(), homedir()].map(canonical));
  if (d === dirname(d)) return 'it is the root of the filesystem';
  if (isSameOrInside(cwd, d)) return cwd === d ? 'it is the current directory' : 'it contains the current directory';
  if (isSameOrInside(inputPath, d)) return `it contains the input file ${input}`;
  if (isSameOrInside(home, d)) return home === d ? 'it is your home directory' : 'it contains your home directory';
  return null;
}

async function assertForceMayClear(dir: string, input: string): Promise<void> {
  const why = await forceRefusal(dir, input);
  if (why) {
    throw new UsageError(`--force refuses to clear ${dir}: ${why}`, {
      hint: `give the outputs a directory of their own, e.g. -o ${fastaStem(input)}_virnucpro`,
    });
  }
}

async function canonical(path: string): Promise<string> {
  return realpath(path).catch(() => resolve(path));
}

function isSameOrInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/**
 * Checks that `dir` is, or can be created as, a writable directory. Returns whether
 * it exists. Nothing is created: a refused run leaves no trace.
 */
async function assertWritablePlace(dir: string): Promise<boolean> {
  let place = dir;
  for (;;) {
    try {
      const s = await stat(place);
      if (!s.isDirectory()) {
        throw new InputError(place === dir ? `${dir} is not a directory` : `${place} is not a directory, so ${dir} cannot be created`, {
          hint: 'choose another output directory with -o',
        });
      }
      break;
    } catch (err) {
      if (!isSystemError(err) || !['ENOENT', 'ENOTDIR'].includes(err.code) || place === dirname(place)) throw outputDirError(dir, err);
      place = dirname(place);
    }
  }
  try {
    await access(place, fsConstants.W_OK);
  } catch (err) {
    throw outputDirError(dir, err);
  }
  return place === dir;
}

/** An operating-system error about the output directory, as a user error naming it. */
function outputDirError(dir: string, err: unknown): unknown {
  const why = userErrorFromSystemError(err);
  if (!why) return err;
  return new VirnucproError(`cannot use the output directory ${dir}: ${why.message}`, { exitCode: why.exitCode, hint: why.hint, cause: err });
}

async function readMarker(dir: string): Promise<Marker | null> {
  let text: string;
  try {
    text = await readFile(join(dir, MARKER_FILE), 'utf8');
  } catch {
    return null;
  }
  const fallback: Marker = { tool: 'virnucpro', about: '', version: '?', created: new Date().toISOString(), intermediateFiles: [] };
  try {
    const m = JSON.parse(text) as Partial<Marker>;
    // Damaged, it still says the directory is ours; only its list of intermediate files is lost.
    return { ...fallback, ...m, intermediateFiles: Array.isArray(m.intermediateFiles) ? m.intermediateFiles.filter((n) => typeof n === 'string') : [] };
  } catch {
    return fallback;
  }
}

async function inspect(dir: string): Promise<Contents> {
  const entries = await readdir(dir);
  const marker = await readMarker(dir);
  const plan = await new WorkDir(dir).readPlan();
  const ownedByUs = marker !== null || plan.state === 'found';
  const known = new Set(marker?.intermediateFiles ?? []);
  // The lock and the marker's own temporary file cannot be anyone else's, even in a directory without a marker
  // (a run killed between taking the lock and writing the marker).
  const isOurs = ownedByUs
    ? (n: string) => OUR_NAMES.has(n) || sliceOfLockName(n) !== null || known.has(n) || isOurTemporary(n, known)
    : (n: string) => n === LOCK_FILE || sliceOfLockName(n) !== null || temporaryOf(n) === MARKER_FILE;
  const owner = entries.includes(LOCK_FILE) ? await readLockOwner(join(dir, LOCK_FILE)) : null;
  const slices = await sliceLocks(dir, entries);
  return {
    ownedByUs,
    marker,
    hasPlan: plan.state !== 'missing',
    ours: entries.filter(isOurs),
    foreign: entries.filter((n) => !isOurs(n)),
    lockHolder: owner && !isStale(owner) ? owner : null,
    sliceHolders: slices.live,
  };
}

/** The slice jobs' locks in `dir`: held by a live job (or one on another host), or left by a dead one. */
async function sliceLocks(dir: string, entries?: string[]): Promise<{ live: SliceLock[]; stale: SliceLock[] }> {
  const names = (entries ?? (await readdir(dir))).filter((n) => sliceOfLockName(n) !== null).sort();
  const found = await Promise.all(names.map(async (name) => ({ name, owner: await readLockOwner(join(dir, name)) })));
  const held = found.filter((l): l is SliceLock => l.owner !== null);
  return { live: held.filter((l) => !isStale(l.owner)), stale: held.filter((l) => isStale(l.owner)) };
}

/** Refuses a directory whose contents this run may not touch. */
function assertUsable(dir: string, c: Contents, req: OutDirRequest): void {
  const disposable = (n: string) =>
    n === MARKER_FILE || n === LOCK_FILE || sliceOfLockName(n) !== null || temporaryOf(n) !== null || (n === WORK && !c.hasPlan);
  const worthKeeping = c.ours.filter((n) => !disposable(n));
  if (c.foreign.length === 0 && worthKeeping.length === 0) return;
  if (req.resume) {
    if (!c.ownedByUs) {
      throw new UsageError(`cannot resume in ${dir}: it holds no virnucpro run (no ${MARKER_FILE} file) but other files: ${listNames(c.foreign)}`, {
        hint: 'check -o; to start a new run, choose a new directory with -o',
      });
    }
    const clash = intermediateNames(dir, req).filter((n) => c.foreign.includes(n));
    if (clash.length > 0) {
      throw new UsageError(`--keep-intermediate would overwrite ${listNames(clash)} in ${dir}, which virnucpro did not write`, {
        hint: 'move those files away, or resume without --keep-intermediate',
      });
    }
    if (c.foreign.includes(virusFastaName(req.input))) {
      throw new UsageError(`the viral records would overwrite '${virusFastaName(req.input)}' in ${dir}, which virnucpro did not write`, {
        hint: 'move that file away, then resume',
      });
    }
    return;
  }
  if (c.foreign.length > 0) {
    const hint = 'choose another directory with -o (virnucpro never removes files it did not write)';
    if (req.force) throw new UsageError(`--force removes only the files virnucpro wrote, but ${dir} also holds ${listNames(c.foreign)}`, { hint });
    throw new UsageError(`output directory ${dir} already exists and holds files virnucpro did not write: ${listNames(c.foreign)}`, { hint });
  }
  if (!req.force) throw outputDirExists(dir);
}

function inUse(dir: string, holder: LockOwner): ResourceError {
  return new ResourceError(`${dir} is in use by another virnucpro run (${describeOwner(holder)})`, {
    hint: `wait for it to finish or choose another -o; if that run no longer exists, delete ${join(dir, LOCK_FILE)}`,
  });
}

/** A slice job, while a run that plans or writes the outputs holds the directory. */
function sliceBlocked(dir: string, holder: LockOwner): ResourceError {
  return new ResourceError(`${dir} is in use by a virnucpro run that plans it or writes its outputs (${describeOwner(holder)}); slice jobs (--units) cannot run meanwhile`, {
    hint: `start the slice jobs once the --plan-only step has finished (Slurm: --dependency=afterok); if that run no longer exists, delete ${join(dir, LOCK_FILE)}`,
  });
}

/** The same slice twice at once. */
function sliceTwice(dir: string, units: UnitSlice, holder: LockOwner): ResourceError {
  return new ResourceError(`slice ${describeSlice(units)} of ${dir} is already being computed by another job (${describeOwner(holder)})`, {
    hint: `each --units I/N runs once at a time; if that job no longer exists (its node failed), delete ${join(dir, sliceLockName(units))}`,
  });
}

/** A run that plans or writes the outputs, while slice jobs are at work. */
function slicesRunning(dir: string, slices: readonly SliceLock[]): ResourceError {
  const jobs = slices.map((s) => `--units ${describeSlice(sliceOfLockName(s.name)!)}: ${describeOwner(s.owner)}`);
  return new ResourceError(`${dir} is in use by ${slices.length} slice job(s) (${jobs.slice(0, NAMES_SHOWN).join('; ')}${jobs.length > NAMES_SHOWN ? `; and ${jobs.length - NAMES_SHOWN} more` : ''})`, {
    hint: `wait for the slice jobs to finish, then run the final --resume (Slurm: --dependency=afterok on the array job); if a job no longer exists (its node failed), delete its lock file (${slices.map((s) => s.name).slice(0, NAMES_SHOWN).join(', ')}) in ${dir}`,
  });
}

/** "'a', 'b' and 3 more files": a few names, then a count. */
function listNames(names: string[]): string {
  const sorted = [...names].sort();
  const shown = sorted.slice(0, NAMES_SHOWN).map((n) => `'${n}'`).join(', ');
  const rest = sorted.length - NAMES_SHOWN;
  return rest > 0 ? `${shown} and ${rest} more` : shown;
}

function intermediateNames(dir: string, req: OutDirRequest): string[] {
  if (!req.keepIntermediate) return [];
  return Object.values(translateOutputPaths(req.input, req.expectedLength, dir)).map((p) => basename(p));
}

/** The file a temporary name belongs to (util/atomic.ts's `.NAME.PID.RANDOM.tmp`), or null. */
function temporaryOf(name: string): string | null {
  return /^\.(.+)\.\d+\.[0-9a-z]*\.tmp$/.exec(name)?.[1] ?? null;
}

function isOurTemporary(name: string, intermediates: ReadonlySet<string>): boolean {
  const of = temporaryOf(name);
  return of !== null && (OUR_NAMES.has(of) || intermediates.has(of));
}
