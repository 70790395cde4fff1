/**
 * Atomic file output: write to a temporary name in the same directory, fsync,
 * then rename over the final name. A reader (or a resumed run) therefore sees
 * either the previous state or the complete new file, never a half-written one.
 */
import { open, rename, rm, mkdir } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { openSync, writeSync, fsyncSync, closeSync, renameSync, rmSync } from 'node:fs';

/** Temporary sibling name for `path` (hidden, unique per process and call). */
export function tempNameFor(path: string): string {
  const rand = Math.random().toString(36).slice(2, 10);
  return join(dirname(path), `.${basename(path)}.${process.pid}.${rand}.tmp`);
}

/** fsyncs a directory so a rename inside it survives a crash. Best effort on platforms that refuse. */
export async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Some filesystems do not allow fsync on directories; the rename is still atomic.
  }
}

/** Writes `data` to `path` atomically. Large buffers are written in chunks (one write call is capped below 2 GiB). */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempNameFor(path);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const fh = await open(tmp, 'w');
  try {
    const CHUNK = 1 << 30;
    for (let off = 0; off < bytes.byteLength; ) {
      const { bytesWritten } = await fh.write(bytes, off, Math.min(CHUNK, bytes.byteLength - off));
      off += bytesWritten;
    }
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
  await syncDir(dirname(path));
}

/**
 * A file written incrementally that appears under its final name only when
 * committed. Abort (or a crash) leaves no file under the final name.
 */
export class AtomicFileWriter {
  readonly path: string;
  readonly tempPath: string;
  private fd: number | null;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(path: string) {
    this.path = path;
    this.tempPath = tempNameFor(path);
    this.fd = openSync(this.tempPath, 'w');
  }

  /** Buffers output and flushes in large blocks (FASTA writers call this per line). */
  write(chunk: string | Uint8Array): void {
    if (this.fd === null) throw new Error(`${this.path}: write after commit/abort`);
    const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.pending.push(b);
    this.pendingBytes += b.byteLength;
    if (this.pendingBytes >= 1 << 20) this.flush();
  }

  private flush(): void {
    if (this.fd === null || this.pendingBytes === 0) return;
    const all = Buffer.concat(this.pending, this.pendingBytes);
    for (let off = 0; off < all.byteLength; ) off += writeSync(this.fd, all, off, all.byteLength - off);
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Flushes, fsyncs and renames to the final name. */
  commit(): void {
    if (this.fd === null) throw new Error(`${this.path}: already committed or aborted`);
    this.flush();
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = null;
    renameSync(this.tempPath, this.path);
  }

  /** Drops the temporary file; the final name is left untouched. */
  abort(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
    this.pending = [];
    rmSync(this.tempPath, { force: true });
  }
}
