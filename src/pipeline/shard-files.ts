/**
 * The two files a shard of work consists of, both in the run's work folder:
 *
 * - the shard INPUT (`shard-NNNNNN.tsv`), written by the parent while it plans the
 *   run: one line per stop-free frame, `recordIndex \t frameId \t nucleotide \t protein`,
 *   in input order. Workers read it by path, so shard data never travels over IPC
 *   and a worker on another machine with the same filesystem could read it too.
 *   plan.json records its sha256; a resumed run and the final outputs check it.
 *
 * - the shard RESULT (`shard-NNNNNN.result`), written by the parent when a worker
 *   returns: a self-validating binary file
 *
 *       "VNPRES1\n"                       magic, 8 bytes
 *       header JSON + "\n"                {shard, frames, classes, featureDim, bodySha256}
 *       body                              frames x classes float32 probabilities (little-endian),
 *                                         then frames x featureDim float32 features when saved
 *
 *   A result is trusted on resume only if the magic, the header and the body's
 *   sha256 all check out and the frame count equals the plan's; anything else is
 *   recomputed. Files are written atomically (temporary name, fsync, rename).
 *
 * The body layout is also the documented `--save-embeddings` format: the features
 * are the merged vectors (DNABERT-S mean first, then ESM-2 mean), row i belonging to
 * line i of the shard input.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic.js';
import { sha256Hex } from '../util/hash.js';

export interface ShardFrame {
  /** Index of the input record (0-based, input order) the frame comes from. */
  recordIndex: number;
  /** `<record>_chunk_<k><F1..R3>` */
  id: string;
  nucleotide: string;
  protein: string;
}

export function shardInputName(index: number): string {
  return `shard-${String(index).padStart(6, '0')}.tsv`;
}

export function shardResultName(index: number): string {
  return `shard-${String(index).padStart(6, '0')}.result`;
}

/** One line of a shard input (with its newline). */
export function formatShardLine(f: ShardFrame): string {
  return `${f.recordIndex}\t${f.id}\t${f.nucleotide}\t${f.protein}\n`;
}

export function formatShardInput(frames: readonly ShardFrame[]): string {
  let out = '';
  for (const f of frames) out += formatShardLine(f);
  return out;
}

export function parseShardInput(text: string, path: string): ShardFrame[] {
  const frames: ShardFrame[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === '') continue;
    const parts = line.split('\t');
    if (parts.length !== 4) throw new Error(`${path}:${i + 1}: malformed shard line (expected 4 fields, got ${parts.length})`);
    frames.push({ recordIndex: Number(parts[0]), id: parts[1], nucleotide: parts[2], protein: parts[3] });
  }
  return frames;
}

/** The frames of a shard input, or why it is not the file the plan wrote. */
export type ShardInputCheck = { ok: true; frames: ShardFrame[] } | { ok: false; reason: string };

/** Reads a shard input and checks it against the sha256 plan.json recorded for it. */
export async function readCheckedShardInput(path: string, sha256: string): Promise<ShardInputCheck> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    return { ok: false, reason: 'missing' };
  }
  if (sha256Hex(bytes) !== sha256) return { ok: false, reason: 'modified since it was planned (checksum mismatch)' };
  return { ok: true, frames: parseShardInput(bytes.toString('utf8'), path) };
}

export interface ShardResult {
  shard: number;
  frames: number;
  classes: number;
  /** frames x classes softmax probabilities. */
  probabilities: Float32Array;
  /** 0 when features were not saved. */
  featureDim: number;
  /** frames x featureDim merged features, when saved. */
  features?: Float32Array;
}

const MAGIC = Buffer.from('VNPRES1\n', 'latin1');

function floatBytes(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

export function encodeShardResult(r: ShardResult): Buffer {
  const parts = [floatBytes(r.probabilities)];
  if (r.features && r.featureDim > 0) parts.push(floatBytes(r.features));
  const body = Buffer.concat(parts);
  const header = {
    shard: r.shard,
    frames: r.frames,
    classes: r.classes,
    featureDim: r.features ? r.featureDim : 0,
    bodySha256: sha256Hex(body),
  };
  return Buffer.concat([MAGIC, Buffer.from(JSON.stringify(header) + '\n', 'utf8'), body]);
}

export async function writeShardResult(path: string, r: ShardResult): Promise<void> {
  await writeFileAtomic(path, encodeShardResult(r));
}

/** Why a result file was not accepted, or the decoded result. */
export type ShardResultCheck = { ok: true; result: ShardResult } | { ok: false; reason: string };

export function decodeShardResult(buf: Buffer, expect: { shard: number; frames: number }): ShardResultCheck {
  if (buf.byteLength < MAGIC.byteLength || !buf.subarray(0, MAGIC.byteLength).equals(MAGIC)) {
    return { ok: false, reason: 'not a shard result file (bad magic)' };
  }
  const nl = buf.indexOf(0x0a, MAGIC.byteLength);
  if (nl < 0) return { ok: false, reason: 'truncated header' };
  let h: { shard: number; frames: number; classes: number; featureDim: number; bodySha256: string };
  try {
    h = JSON.parse(buf.subarray(MAGIC.byteLength, nl).toString('utf8'));
  } catch {
    return { ok: false, reason: 'corrupt header' };
  }
  if (h.shard !== expect.shard) return { ok: false, reason: `belongs to shard ${h.shard}` };
  if (h.frames !== expect.frames) return { ok: false, reason: `has ${h.frames} frames, the plan says ${expect.frames}` };
  // Copy the body so the float views are aligned whatever the header length.
  const body = Buffer.from(buf.subarray(nl + 1));
  const want = 4 * h.frames * (h.classes + h.featureDim);
  if (body.byteLength !== want) return { ok: false, reason: `body is ${body.byteLength} bytes, expected ${want}` };
  if (sha256Hex(body) !== h.bodySha256) return { ok: false, reason: 'checksum mismatch' };
  const f32 = new Float32Array(body.buffer, body.byteOffset, body.byteLength / 4);
  const nProb = h.frames * h.classes;
  return {
    ok: true,
    result: {
      shard: h.shard,
      frames: h.frames,
      classes: h.classes,
      probabilities: f32.subarray(0, nProb),
      featureDim: h.featureDim,
      features: h.featureDim > 0 ? f32.subarray(nProb) : undefined,
    },
  };
}

export async function readShardResult(path: string, expect: { shard: number; frames: number }): Promise<ShardResultCheck> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch {
    return { ok: false, reason: 'missing' };
  }
  return decodeShardResult(buf, expect);
}
