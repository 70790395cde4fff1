/**
 * Opens an input file as a stream of decompressed bytes, choosing the codec
 * from the file's magic bytes, never from its name: gzip (node:zlib, including
 * multi-member/bgzip files), bzip2 (`unbzip2-stream`, pure JS), xz
 * (`xz-decompress`, WebAssembly) and zstd (`fzstd`, pure JS). None of them
 * needs a native build or a download at install time, so a fresh offline
 * install on Node 20 reads every format.
 *
 * Errors say which file and what went wrong: an unreadable path, or a
 * truncated/corrupt compressed stream, as `InputError` (exit code 2).
 *
 * Public API:
 * - `detectCompression(head: Uint8Array): Compression`
 * - `openDecompressed(path, { onRawBytes?, onRawChunk? }): Promise<DecompressedInput>`
 *   `chunks` yields decompressed bytes; `onRawBytes(n)` reports file bytes
 *   consumed so far (for progress against the file size in `fileBytes`);
 *   `onRawChunk(bytes)` sees every block of the file as read, before
 *   decompression (to checksum the file in the same pass).
 * - `openDecompressedStream(name, source, observers?)`: the same for a stream
 *   read once (stdin): the codec is chosen from its first bytes, `fileBytes` is 0.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import unbzip2Stream from 'unbzip2-stream';
import { createRequire } from 'node:module';
import { InputError } from '../util/errors.js';

// xz-decompress is a CommonJS bundle whose named export Node's ESM loader cannot see statically.
const { XzReadableStream } = createRequire(import.meta.url)('xz-decompress') as typeof import('xz-decompress');

export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

export interface DecompressedInput {
  compression: Compression;
  /** Size of the file on disk (compressed bytes). */
  fileBytes: number;
  chunks: AsyncIterable<Uint8Array>;
}

const startsWith = (head: Uint8Array, magic: number[]) => magic.every((b, i) => head[i] === b);

export function detectCompression(head: Uint8Array): Compression {
  if (startsWith(head, [0x1f, 0x8b])) return 'gzip';
  if (startsWith(head, [0x42, 0x5a, 0x68]) && head[3] >= 0x31 && head[3] <= 0x39) return 'bzip2'; // "BZh1".."BZh9"
  if (startsWith(head, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return 'xz';
  if (startsWith(head, [0x28, 0xb5, 0x2f, 0xfd])) return 'zstd';
  return 'none';
}

function describeFsError(path: string, err: NodeJS.ErrnoException): InputError {
  const why: Record<string, string> = {
    ENOENT: 'no such file',
    EACCES: 'permission denied',
    EISDIR: 'is a directory, not a file',
    ENOTDIR: 'a parent of the path is not a directory',
  };
  return new InputError(`${path}: cannot read input: ${why[err.code ?? ''] ?? err.message}`, { cause: err });
}

export interface RawByteObservers {
  /** Bytes of the file read so far. */
  onRawBytes?: (n: number) => void;
  /** Each block of the file as read, in order (before decompression). */
  onRawChunk?: (bytes: Uint8Array) => void;
}

/** The raw file bytes, counted (and shown to `onRawChunk`) as they are read. */
async function* rawBytes(path: string, observers: RawByteObservers): AsyncGenerator<Uint8Array> {
  const { onRawBytes, onRawChunk } = observers;
  let total = 0;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      total += chunk.length;
      onRawChunk?.(chunk);
      onRawBytes?.(total);
      yield chunk;
    }
  } catch (e) {
    throw describeFsError(path, e as NodeJS.ErrnoException);
  }
}

/** Runs a Node transform stream over `raw`. */
function throughNodeStream(raw: AsyncIterable<Uint8Array>, transform: NodeJS.ReadWriteStream): AsyncIterable<Uint8Array> {
  const out = pipeline(Readable.from(raw, { objectMode: false }), transform, () => undefined);
  return out as unknown as AsyncIterable<Uint8Array>;
}

async function* zstdChunks(raw: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let out: Uint8Array[] = [];
  let finished = false;
  const d = new ZstdDecompress((data, final) => {
    if (data.length > 0) out.push(data);
    if (final) finished = true;
  });
  for await (const chunk of raw) {
    d.push(chunk);
    yield* out;
    out = [];
  }
  d.push(new Uint8Array(0), true);
  yield* out;
  if (!finished) throw new Error('unexpected end of data');
}

async function* xzChunks(raw: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const web = Readable.toWeb(Readable.from(raw)) as unknown as ReadableStream<Uint8Array>;
  yield* new XzReadableStream(web) as unknown as AsyncIterable<Uint8Array>;
}

async function* bzip2Chunks(raw: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  // unbzip2-stream is a synchronous `through` stream: writing decodes and emits 'data' at once.
  const s = unbzip2Stream();
  let out: Uint8Array[] = [];
  let error: unknown = null;
  let sawInput = false;
  s.on('data', (d: Uint8Array) => out.push(d));
  s.on('error', (e: unknown) => (error ??= e));
  for await (const chunk of raw) {
    sawInput = true;
    s.write(chunk);
    if (error) throw error;
    yield* out;
    out = [];
  }
  if (sawInput) s.end();
  if (error) throw error;
  yield* out;
}

/** Re-throws codec failures as an InputError naming the file and the format. */
async function* namingErrors(path: string, compression: Compression, chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    yield* chunks;
  } catch (e) {
    if (e instanceof InputError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new InputError(`${path}: truncated or corrupt ${compression} stream (${msg})`, {
      cause: e,
      hint: `check the file with the ${compression} command-line tool, or download it again`,
    });
  }
}

/** The bytes of a stream read once, counted (and shown to `onRawChunk`) as they are read; read errors name the stream. */
async function* observedStream(name: string, first: Uint8Array[], rest: AsyncIterator<Uint8Array>, observers: RawByteObservers): AsyncGenerator<Uint8Array> {
  let total = 0;
  const pass = (chunk: Uint8Array): Uint8Array => {
    total += chunk.length;
    observers.onRawChunk?.(chunk);
    observers.onRawBytes?.(total);
    return chunk;
  };
  for (const chunk of first) yield pass(chunk);
  for (;;) {
    let next: IteratorResult<Uint8Array>;
    try {
      next = await rest.next();
    } catch (e) {
      throw new InputError(`${name}: cannot read input: ${(e as Error).message}`, { cause: e });
    }
    if (next.done) return;
    yield pass(next.value);
  }
}

/**
 * A stream read once (stdin) as decompressed bytes: its first bytes are read ahead to
 * choose the codec, then handed on with the rest, so nothing is read twice.
 */
export async function openDecompressedStream(name: string, source: AsyncIterable<Uint8Array>, options: RawByteObservers = {}): Promise<DecompressedInput> {
  const it = source[Symbol.asyncIterator]();
  const first: Uint8Array[] = [];
  let have = 0;
  const MAGIC_BYTES = 8;
  try {
    while (have < MAGIC_BYTES) {
      const next = await it.next();
      if (next.done) break;
      first.push(next.value);
      have += next.value.length;
    }
  } catch (e) {
    throw new InputError(`${name}: cannot read input: ${(e as Error).message}`, { cause: e });
  }
  const head = Buffer.concat(first).subarray(0, MAGIC_BYTES);
  return decode(name, detectCompression(head), 0, observedStream(name, first, it, options));
}

function decode(name: string, compression: Compression, fileBytes: number, raw: AsyncIterable<Uint8Array>): DecompressedInput {
  const decoded: Record<Compression, () => AsyncIterable<Uint8Array>> = {
    none: () => raw,
    // 256 KiB output blocks instead of zlib's 16 KiB: a sixteenth of the stream and parser overhead per byte.
    gzip: () => throughNodeStream(raw, createGunzip({ chunkSize: 1 << 18 })),
    bzip2: () => bzip2Chunks(raw),
    xz: () => xzChunks(raw),
    zstd: () => zstdChunks(raw),
  };
  return { compression, fileBytes, chunks: namingErrors(name, compression, decoded[compression]()) };
}

export async function openDecompressed(path: string, options: RawByteObservers = {}): Promise<DecompressedInput> {
  let fileBytes: number;
  const head = new Uint8Array(8);
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    fileBytes = st.size;
    const fh = await open(path, 'r');
    try {
      await fh.read(head, 0, head.length, 0);
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw describeFsError(path, e as NodeJS.ErrnoException);
  }
  return decode(path, detectCompression(head), fileBytes, rawBytes(path, options));
}
