/**
 * Lock files: `path` is created exclusively (O_EXCL) and holds its owner's pid,
 * host and start time, so two processes never work on the same thing (a
 * download, an output directory) at once. A lock left by a process that died on
 * this host (its pid no longer runs) is stale and taken over; one held from
 * another host cannot be checked, so it counts as held.
 *
 * A held lock is removed when released, when the process exits, and on
 * SIGINT/SIGTERM when nothing else handles the signal (the coordinator does during
 * the compute stage; its error path releases the lock).
 */
import { open, readFile, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { hostname } from 'node:os';

export interface LockOwner {
  pid?: number;
  host?: string;
  since?: string;
}

export interface HeldLock {
  readonly path: string;
  /** Removes the lock (idempotent). */
  release(): void;
}

export type LockAttempt =
  | { acquired: true; lock: HeldLock; /** The dead owner whose stale lock was taken over. */ tookOverFrom?: LockOwner }
  | { acquired: false; holder: LockOwner };

/** Whether a process with this pid runs on this host (EPERM: it runs, as another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** "pid 123 on host, since 2026-...": for messages about a held lock. */
export function describeOwner(owner: LockOwner): string {
  return `pid ${owner.pid ?? '?'} on ${owner.host ?? '?'}, since ${owner.since ?? '?'}`;
}

/** The owner written in a lock file; `{}` when unreadable or half-written. */
export async function readLockOwner(path: string): Promise<LockOwner | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const o = JSON.parse(text) as LockOwner;
    return o !== null && typeof o === 'object' ? o : {};
  } catch {
    return {};
  }
}

/** A lock of a process on this host that no longer runs. Unknown owners are never stale: they may be mid-write. */
export function isStale(owner: LockOwner): boolean {
  return owner.host === hostname() && typeof owner.pid === 'number' && !pidAlive(owner.pid);
}

/** Creates the lock file, taking over a stale one; reports the holder of a live one. */
export async function acquireLock(path: string): Promise<LockAttempt> {
  const me: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  let tookOverFrom: LockOwner | undefined;
  for (let tries = 0; ; tries++) {
    try {
      const fh = await open(path, 'wx');
      try {
        await fh.writeFile(JSON.stringify(me) + '\n');
      } catch (err) {
        // A full disk: no half-written lock may stay behind to block the next run.
        await fh.close().catch(() => undefined);
        await rm(path, { force: true });
        throw err;
      }
      await fh.close();
      return { acquired: true, lock: holdUntilExit(path), tookOverFrom };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = (await readLockOwner(path)) ?? {};
    if (tries > 0 || !isStale(holder)) return { acquired: false, holder };
    await rm(path, { force: true });
    tookOverFrom = holder;
  }
}

function holdUntilExit(path: string): HeldLock {
  let held = true;
  const removeNow = (): void => {
    if (!held) return;
    held = false;
    rmSync(path, { force: true });
    process.off('exit', removeNow);
    for (const [sig, h] of signalHandlers) process.off(sig, h);
  };
  // Alone, the signal would kill the process with the lock left behind; remove it, then let the signal act as usual.
  const signalHandlers = (['SIGINT', 'SIGTERM'] as const).map((sig) => {
    const handler = (): void => {
      if (process.listenerCount(sig) > 1) return; // someone else stops the run; its error path releases the lock
      removeNow();
      process.kill(process.pid, sig);
    };
    process.on(sig, handler);
    return [sig, handler] as const;
  });
  process.on('exit', removeNow);
  return { path, release: removeNow };
}
