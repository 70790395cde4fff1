/**
 * A copy of an input that can be read only once (stdin), written while it is
 * read, so that a run can read its input again (the viral FASTA at the end, a
 * resumed run). Plain input is gzip-compressed on the way, in independent
 * members of about 1 MiB at level 1 (fast; a multi-member gzip file reads as
 * one stream, decompress.ts); input that is already compressed is copied as it
 * is. The file appears only on `commit()` (atomic), which returns its sha256.
 *
 * Public API: `class InputCopy(path)`: `write(rawBytes)` (synchronous, so it can
 * sit in a reader's `onRawChunk`), `commit(): { sha256, bytes, gzipped }`, `abort()`.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { AtomicFileWriter } from '../util/atomic.js';
import { detectCompression } from './decompress.js';

const MEMBER_BYTES = 1 << 20;
/** Enough bytes to recognise every supported compression's magic number. */
const MAGIC_BYTES = 8;

export interface InputCopyInfo {
  sha256: string;
  /** Size of the copy. */
  bytes: number;
  /** Whether the copy is a gzip of plain input (false: the input's own compressed bytes). */
  gzipped: boolean;
}

export class InputCopy {
  private readonly out: AtomicFileWriter;
  private readonly hash = createHash('sha256');
  private bytes = 0;
  /** Decided from the first bytes: null until MAGIC_BYTES have been seen. */
  private gzip: boolean | null = null;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(readonly path: string) {
    this.out = new AtomicFileWriter(path);
  }

  write(chunk: Uint8Array): void {
    this.pending.push(Buffer.from(chunk)); // copied: the reader may reuse its block
    this.pendingBytes += chunk.length;
    if (this.gzip === null && this.pendingBytes >= MAGIC_BYTES) this.decide();
    if (this.gzip !== null && this.pendingBytes >= (this.gzip ? MEMBER_BYTES : 1)) this.flush();
  }

  private decide(): void {
    this.gzip = detectCompression(Buffer.concat(this.pending).subarray(0, MAGIC_BYTES)) === 'none';
  }

  private flush(): void {
    if (this.pendingBytes === 0) return;
    const raw = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    const bytes = this.gzip ? gzipSync(raw, { level: 1 }) : raw;
    this.hash.update(bytes);
    this.bytes += bytes.length;
    this.out.write(bytes);
  }

  commit(): InputCopyInfo {
    if (this.gzip === null) this.decide();
    this.flush();
    this.out.commit();
    return { sha256: this.hash.digest('hex'), bytes: this.bytes, gzipped: this.gzip! };
  }

  abort(): void {
    this.out.abort();
  }
}
