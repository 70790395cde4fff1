/**
 * File checksums remembered by the files' stat identity, so multi-GB files
 * (a bundle's weights, an 11 GB checkpoint) are read once, not on every run.
 *
 * After a file is hashed, its identity (size, mtime and ctime in nanoseconds,
 * inode, device) is recorded with its sha256 in a small JSON file, written
 * atomically. A later lookup whose identity still matches trusts the recorded
 * sha256; any other file is hashed again. Writing to a file changes its ctime
 * even when its size and mtime are put back afterwards (`touch -r` and utimes()
 * set mtime, never ctime), so a same-size, same-mtime corruption is caught.
 *
 * Racy entries (git's term): file timestamps tick coarsely (a few ms), so a file
 * changed within the tick in which it was recorded keeps its ctime. An entry is
 * therefore trusted only when the file's ctime is older than the memo file's own
 * mtime (the same filesystem clock); a younger one is hashed again on the next
 * lookup, and a memo saved after that makes it trusted.
 */
import { open, stat } from 'node:fs/promises';
import { writeFileAtomic } from './atomic.js';
import { sha256File } from './hash.js';

/** What identifies one version of a file on disk (bigint stat fields as decimal strings). */
export interface FileIdentity {
  size: string;
  mtimeNs: string;
  ctimeNs: string;
  ino: string;
  dev: string;
}

interface Entry extends FileIdentity {
  sha256: string;
  /** Wall-clock ms when hashed: the oldest entries go first when a memo is pruned. */
  recordedAt: number;
}

interface Remembered extends Entry {
  /** ctime (ns) below which the entry is trusted: the mtime of the memo file it was read from or saved to. */
  trustBefore?: bigint;
}

const FORMAT = 'virnucpro-hash-memo';
const VERSION = 1;

export async function fileIdentity(path: string): Promise<FileIdentity> {
  const s = await stat(path, { bigint: true });
  return { size: String(s.size), mtimeNs: String(s.mtimeNs), ctimeNs: String(s.ctimeNs), ino: String(s.ino), dev: String(s.dev) };
}

export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino && a.dev === b.dev;
}

export class FileHashMemo {
  private readonly entries = new Map<string, Remembered>();
  private changed = false;

  private constructor(
    /** The memo file. */
    readonly path: string,
    private readonly maxEntries: number,
  ) {}

  /** Reads the memo at `path`. A missing or unreadable memo is an empty one: the files are simply hashed. */
  static async load(path: string, options: { maxEntries?: number } = {}): Promise<FileHashMemo> {
    const memo = new FileHashMemo(path, options.maxEntries ?? Infinity);
    const read = await readMemoFile(path);
    for (const [key, entry] of Object.entries(read?.entries ?? {})) memo.entries.set(key, { ...entry, trustBefore: read?.mtimeNs });
    return memo;
  }

  /** The sha256 remembered for `key` when the file at `path` is still the version that was hashed; else undefined. */
  async trusted(key: string, path: string): Promise<string | undefined> {
    const known = this.entries.get(key);
    if (!known || known.trustBefore === undefined) return undefined;
    const now = await fileIdentity(path);
    return sameIdentity(known, now) && BigInt(now.ctimeNs) < known.trustBefore ? known.sha256 : undefined;
  }

  /**
   * sha256 of the file at `path`, remembered under `key`: from the memo when trusted, else read (and
   * remembered). `reread` reads the file whatever the memo says.
   */
  async sha256(key: string, path: string, options: { reread?: boolean } = {}): Promise<{ sha256: string; hashed: boolean }> {
    const remembered = options.reread ? undefined : await this.trusted(key, path);
    if (remembered) return { sha256: remembered, hashed: false };
    const before = await fileIdentity(path);
    const sha256 = await sha256File(path);
    // A file that changed while it was read has no single checksum worth remembering.
    if (sameIdentity(before, await fileIdentity(path))) {
      this.entries.set(key, { ...before, sha256, recordedAt: Date.now() });
      this.changed = true;
    }
    return { sha256, hashed: true };
  }

  /** Forgets every key not in `keep` (e.g. files no longer in a bundle). */
  retainOnly(keep: ReadonlySet<string>): void {
    for (const key of [...this.entries.keys()]) {
      if (!keep.has(key)) {
        this.entries.delete(key);
        this.changed = true;
      }
    }
  }

  /**
   * Writes the memo atomically when anything changed. Returns false when it cannot be written (a
   * read-only directory): the files are then hashed again next time, nothing worse.
   */
  async save(): Promise<boolean> {
    if (!this.changed) return true;
    let kept = [...this.entries];
    if (kept.length > this.maxEntries) kept = kept.sort((a, b) => b[1].recordedAt - a[1].recordedAt).slice(0, this.maxEntries);
    const entries = Object.fromEntries(kept.map(([key, { trustBefore: _, ...entry }]) => [key, entry]));
    try {
      await writeFileAtomic(this.path, `${JSON.stringify({ format: FORMAT, version: VERSION, entries }, null, 1)}\n`);
      const written = await stat(this.path, { bigint: true });
      for (const [, entry] of kept) entry.trustBefore = written.mtimeNs;
      this.changed = false;
      return true;
    } catch {
      return false;
    }
  }
}

async function readMemoFile(path: string): Promise<{ mtimeNs: bigint; entries: Record<string, Entry> } | undefined> {
  let text: string;
  let mtimeNs: bigint;
  try {
    const fh = await open(path, 'r');
    try {
      mtimeNs = (await fh.stat({ bigint: true })).mtimeNs;
      text = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as { format?: unknown; version?: unknown; entries?: unknown };
    if (parsed?.format !== FORMAT || parsed.version !== VERSION || typeof parsed.entries !== 'object' || parsed.entries === null) return undefined;
    const entries: Record<string, Entry> = {};
    for (const [key, e] of Object.entries(parsed.entries as Record<string, Partial<Entry>>)) {
      const fields = [e?.size, e?.mtimeNs, e?.ctimeNs, e?.ino, e?.dev];
      if (fields.every((f) => typeof f === 'string' && /^\d+$/.test(f)) && typeof e.sha256 === 'string' && /^[0-9a-f]{64}$/.test(e.sha256)) {
        entries[key] = { ...(e as Entry), recordedAt: typeof e.recordedAt === 'number' ? e.recordedAt : 0 };
      }
    }
    return { mtimeNs, entries };
  } catch {
    return undefined; // A damaged memo is an empty one.
  }
}
