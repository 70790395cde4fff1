import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { AtomicFileWriter } from './atomic.js';

/** sha256 of a whole file, streamed (hex). Used for inputs, model sources, bundle files and downloads. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Feeds the first `length` bytes of a file to each hash given (a resumed download's bytes already on disk). */
export async function hashFilePrefix(path: string, length: number, hashes: readonly (Hash | undefined)[]): Promise<void> {
  if (length === 0) return;
  for await (const chunk of createReadStream(path, { start: 0, end: length - 1, highWaterMark: 1 << 20 })) {
    for (const h of hashes) h?.update(chunk as Buffer);
  }
}

/**
 * Git blob id of a file (sha1 of `blob <size>\0` + content), streamed: the
 * checksum GitHub and the Hugging Face hub publish for small files.
 */
export async function gitBlobSha1OfFile(path: string, size?: number): Promise<string> {
  const n = size ?? (await stat(path)).size;
  const h = createHash('sha1').update(`blob ${n}\0`);
  await hashFilePrefix(path, n, [h]);
  return h.digest('hex');
}

/** sha256 of a string (as UTF-8) or bytes (hex). */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * An `AtomicFileWriter` that also checksums what it writes, so a file can be
 * recorded with its sha256 without reading it back (the work folder's files,
 * whose checksums go into plan.json).
 */
export class ChecksummedFileWriter {
  private readonly out: AtomicFileWriter;
  private readonly hash = createHash('sha256');
  /** Text not yet encoded: lines are joined first, so each block is encoded and hashed once. */
  private pending = '';

  constructor(readonly path: string) {
    this.out = new AtomicFileWriter(path);
  }

  write(text: string): void {
    this.pending += text;
    if (this.pending.length >= 1 << 20) this.flush();
  }

  private flush(): void {
    const bytes = Buffer.from(this.pending, 'utf8');
    this.pending = '';
    this.hash.update(bytes);
    this.out.write(bytes);
  }

  /** Commits the file (see AtomicFileWriter) and returns the sha256 of its content (hex). */
  commit(): string {
    this.flush();
    this.out.commit();
    return this.hash.digest('hex');
  }

  abort(): void {
    this.out.abort();
  }
}
