/**
 * Read-only view of a ZIP container (what `torch.save` writes since torch 1.6).
 *
 * Only the central directory is read up front; record contents are read on
 * demand by offset, so listing a multi-GB checkpoint costs a few kilobytes of
 * I/O. ZIP64 (files or records over 4 GiB) is supported. Every offset read
 * from the file is checked against the file size before it is used, so a
 * truncated or hostile file fails with an InputError naming the problem.
 *
 * Every record's CRC-32 is checked when it is read: a record read whole (data.pkl,
 * and a tensor that covers its storage, the usual case) is checked on the bytes
 * already in memory; a record read in parts (storages shared by several views) is
 * checked once, by reading it through in chunks, before its first part is used.
 * A damaged file therefore fails with exit code 2 instead of loading wrong weights.
 */
import { openSync, readSync, fstatSync, closeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { crc32, inflateRawSync } from 'node:zlib';
import { InputError } from '../../util/errors.js';
import { readRange } from '../safetensors.js';

export interface ZipRecord {
  name: string;
  /** 0 = stored (what torch writes), 8 = deflate. */
  compressionMethod: number;
  compressedSize: number;
  size: number;
  crc32: number;
  /** Offset of the record's local header. */
  headerOffset: number;
  /** Offset of the record's first data byte. */
  dataOffset: number;
}

export interface ZipDirectory {
  path: string;
  fileSize: number;
  records: ZipRecord[];
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const EOCD_MIN = 22;
const MAX_COMMENT = 0xffff;

function readAt(fd: number, path: string, fileSize: number, offset: number, length: number, what: string): Buffer {
  if (offset < 0 || length < 0 || offset + length > fileSize) {
    throw new InputError(`${path}: ${what} at byte ${offset} (${length} bytes) lies outside the ${fileSize}-byte file (truncated zip?)`);
  }
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, offset + done);
    if (n === 0) throw new InputError(`${path}: unexpected end of file while reading ${what}`);
    done += n;
  }
  return buf;
}

function u64(buf: Buffer, at: number, path: string): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new InputError(`${path}: zip field value ${v} is too large`);
  return Number(v);
}

/** Reads the central directory of the zip file at `path`. */
export function readZipDirectory(path: string): ZipDirectory {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new InputError(`${path}: cannot open: ${(e as Error).message}`);
  }
  try {
    const fileSize = fstatSync(fd).size;
    if (fileSize < EOCD_MIN) throw new InputError(`${path}: not a zip file (only ${fileSize} bytes)`);
    // The end-of-central-directory record sits in the last 22 + comment bytes.
    const tailLen = Math.min(fileSize, EOCD_MIN + MAX_COMMENT);
    const tailStart = fileSize - tailLen;
    const tail = readAt(fd, path, fileSize, tailStart, tailLen, 'end of file');
    let eocd = -1;
    for (let i = tailLen - EOCD_MIN; i >= 0; i--) {
      if (tail.readUInt32LE(i) === SIG_EOCD) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) {
      const magic = tail.length >= 4 && tailStart === 0 ? tail.subarray(0, 4) : readAt(fd, path, fileSize, 0, 4, 'magic');
      if (magic.readUInt32LE(0) === SIG_LOCAL) {
        throw new InputError(`${path}: zip file is truncated (no end-of-central-directory record)`);
      }
      if (magic[0] === 0x80) {
        throw new InputError(`${path}: legacy (pre-1.6) PyTorch serialization is not supported`, {
          hint: 'Re-save the checkpoint with a PyTorch of version 1.6 or later (torch.save writes zip files by default).',
        });
      }
      throw new InputError(`${path}: not a zip file (no end-of-central-directory record)`);
    }
    let entries = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    const eocdAbs = tailStart + eocd;
    if (entries === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = readAt(fd, path, fileSize, eocdAbs - 20, 20, 'zip64 end-of-directory locator');
      if (loc.readUInt32LE(0) !== SIG_ZIP64_LOCATOR) throw new InputError(`${path}: zip64 locator missing (corrupt zip)`);
      const z64Offset = u64(loc, 8, path);
      const z64 = readAt(fd, path, fileSize, z64Offset, 56, 'zip64 end-of-directory record');
      if (z64.readUInt32LE(0) !== SIG_ZIP64_EOCD) throw new InputError(`${path}: zip64 end-of-directory record missing (corrupt zip)`);
      entries = u64(z64, 32, path);
      cdSize = u64(z64, 40, path);
      cdOffset = u64(z64, 48, path);
    }
    if (cdOffset + cdSize > eocdAbs) {
      throw new InputError(`${path}: zip central directory (${cdOffset}+${cdSize}) runs past its end record at ${eocdAbs} (truncated zip?)`);
    }
    const cd = readAt(fd, path, fileSize, cdOffset, cdSize, 'zip central directory');
    const records: ZipRecord[] = [];
    let p = 0;
    for (let i = 0; i < entries; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== SIG_CENTRAL) {
        throw new InputError(`${path}: zip central directory entry ${i} is corrupt`);
      }
      const flags = cd.readUInt16LE(p + 8);
      const compressionMethod = cd.readUInt16LE(p + 10);
      const crc32 = cd.readUInt32LE(p + 16);
      let compressedSize = cd.readUInt32LE(p + 20);
      let size = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      let headerOffset = cd.readUInt32LE(p + 42);
      if (p + 46 + nameLen + extraLen + commentLen > cd.length) {
        throw new InputError(`${path}: zip central directory entry ${i} runs past the directory`);
      }
      const name = cd.toString(flags & 0x800 ? 'utf8' : 'latin1', p + 46, p + 46 + nameLen);
      // Names end up in messages: refuse control characters rather than print them to a terminal.
      if (/[\u0000-\u001f\u007f]/.test(name)) throw new InputError(`${path}: zip central directory entry ${i} has a name with control characters (corrupt zip)`);
      // ZIP64 extra field: the 64-bit values appear only for fields saturated at 0xffffffff, in this order.
      const extra = cd.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen);
      for (let e = 0; e + 4 <= extra.length; ) {
        const id = extra.readUInt16LE(e);
        const len = extra.readUInt16LE(e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          const take = (): number => {
            if (q + 8 > e + 4 + len) throw new InputError(`${path}: zip64 extra field of '${name}' is too short`);
            const v = u64(extra, q, path);
            q += 8;
            return v;
          };
          if (size === 0xffffffff) size = take();
          if (compressedSize === 0xffffffff) compressedSize = take();
          if (headerOffset === 0xffffffff) headerOffset = take();
        }
        e += 4 + len;
      }
      if (flags & 0x1) throw new InputError(`${path}: zip record '${name}' is encrypted`);
      if (compressionMethod !== 0 && compressionMethod !== 8) {
        throw new InputError(`${path}: zip record '${name}' uses unsupported compression method ${compressionMethod}`);
      }
      const local = readAt(fd, path, fileSize, headerOffset, 30, `local header of '${name}'`);
      if (local.readUInt32LE(0) !== SIG_LOCAL) throw new InputError(`${path}: zip record '${name}' has no local header at byte ${headerOffset}`);
      const dataOffset = headerOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
      if (dataOffset + compressedSize > cdOffset) {
        throw new InputError(
          `${path}: zip record '${name}' (bytes ${dataOffset}..${dataOffset + compressedSize}) runs into the central directory at ${cdOffset} (truncated or corrupt zip)`,
        );
      }
      records.push({ name, compressionMethod, compressedSize, size, crc32, headerOffset, dataOffset });
      p += 46 + nameLen + extraLen + commentLen;
    }
    return { path, fileSize, records };
  } finally {
    closeSync(fd);
  }
}

/** Reads a whole record into memory and checks its CRC-32 (use for small records such as data.pkl). */
export async function readZipRecord(dir: ZipDirectory, record: ZipRecord): Promise<Uint8Array> {
  const raw = await readRange(dir.path, record.dataOffset, record.compressedSize);
  let out = raw;
  if (record.compressionMethod !== 0) {
    out = inflateRawSync(raw, { maxOutputLength: record.size });
    if (out.byteLength !== record.size) {
      throw new InputError(`${dir.path}: zip record '${record.name}' inflates to ${out.byteLength} bytes, expected ${record.size}`);
    }
  }
  if (crc32(out) !== record.crc32) throw damaged(dir, record);
  checkedRecords(dir).add(record);
  return out;
}

/**
 * Reads `length` bytes starting `offset` bytes into a record, without reading
 * the rest (stored records only: that is what makes tensors lazy). The record's
 * CRC-32 is checked on the first read of it.
 */
export async function readZipRecordRange(dir: ZipDirectory, record: ZipRecord, offset: number, length: number): Promise<Uint8Array> {
  if (offset < 0 || offset + length > record.size) {
    throw new InputError(`${dir.path}: read of bytes ${offset}..${offset + length} is outside zip record '${record.name}' (${record.size} bytes)`);
  }
  if (record.compressionMethod !== 0 || (offset === 0 && length === record.size)) {
    const all = await readZipRecord(dir, record);
    return offset === 0 && length === all.byteLength ? all : all.subarray(offset, offset + length);
  }
  if (!checkedRecords(dir).has(record)) await checkStoredRecord(dir, record);
  return readRange(dir.path, record.dataOffset + offset, length);
}

/** Records of a directory whose CRC-32 has been checked (each is checked once, however many tensors view it). */
const checked = new WeakMap<ZipDirectory, Set<ZipRecord>>();

function checkedRecords(dir: ZipDirectory): Set<ZipRecord> {
  let set = checked.get(dir);
  if (!set) checked.set(dir, (set = new Set()));
  return set;
}

/** Reads a stored record through in chunks, computing its CRC-32 incrementally (records may be GBs). */
async function checkStoredRecord(dir: ZipDirectory, record: ZipRecord): Promise<void> {
  const CHUNK = 1 << 24;
  const buf = Buffer.alloc(Math.min(CHUNK, Math.max(record.size, 1)));
  const fh = await open(dir.path, 'r');
  let crc = 0;
  try {
    for (let done = 0; done < record.size; ) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, record.size - done), record.dataOffset + done);
      if (bytesRead === 0) throw new InputError(`${dir.path}: unexpected end of file in zip record '${record.name}'`);
      crc = crc32(buf.subarray(0, bytesRead), crc);
      done += bytesRead;
    }
  } finally {
    await fh.close();
  }
  if (crc !== record.crc32) throw damaged(dir, record);
  checkedRecords(dir).add(record);
}

function damaged(dir: ZipDirectory, record: ZipRecord): InputError {
  return new InputError(`${dir.path}: zip record '${record.name}' is damaged (its CRC-32 does not match the one stored in the file)`, {
    hint: 'the file was corrupted on disk or in transfer: download or copy it again (e.g. `virnucpro models fetch`)',
  });
}
