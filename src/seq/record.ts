/**
 * The per-record transformation of VirNucPro's `make_predictdata`: chunk the
 * record (`split_fasta_chunk`), upper-case each chunk (`process_record`), and
 * keep its stop-free, non-empty frames (`identify_seq`). `translate` and the
 * later `predict` pipeline both call this, so the two cannot drift apart.
 *
 * Public API:
 * - `processRecordBytes(id, sequence: Uint8Array, expectedLength, sink): RecordCounts`
 *   streams chunks and frames as byte views into `sink` (the fast path: no strings).
 * - `translateRecord(id, sequence: string, expectedLength): TranslatedRecord`
 *   the same, collected as strings.
 *
 * An empty record yields nothing (the original crashes on it); callers count
 * it. A record shorter than a codon yields its chunk but no frames.
 */
import { chunkId, forEachChunkSpan, type Chunk } from './chunk.js';
import { identifyFrameBytes, type Frame } from './translate.js';

/** Receives one record's output in the original's order. Views are valid only during the call. */
export interface RecordSink {
  /** A chunk (case preserved) as written to `<stem>_chunked<N>.fa`. */
  chunk(id: string, sequence: Uint8Array): void;
  /** A kept frame (upper-case nucleotide slice and protein). */
  frame(id: string, nucleotide: Uint8Array, protein: Uint8Array): void;
}

export interface RecordCounts {
  chunks: number;
  frames: number;
}

export interface TranslatedRecord {
  chunks: Chunk[];
  frames: Frame[];
}

/** `process_record` upper-cases the chunk first; identifyFrameBytes does that on the fly. */
const UPPER_CASE = Object.freeze({ upperCase: true });

export function processRecordBytes(id: string, sequence: Uint8Array, expectedLength: number, sink: RecordSink): RecordCounts {
  let frames = 0;
  const chunks = forEachChunkSpan(sequence.length, expectedLength, (index, start, end) => {
    const cid = chunkId(id, index);
    const chunk = sequence.subarray(start, end);
    sink.chunk(cid, chunk);
    for (const f of identifyFrameBytes(chunk, UPPER_CASE)) {
      sink.frame(cid + f.suffix, f.nucleotide, f.protein);
      frames++;
    }
  });
  return { chunks, frames };
}

const latin1 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

export function translateRecord(id: string, sequence: string, expectedLength: number): TranslatedRecord {
  const out: TranslatedRecord = { chunks: [], frames: [] };
  processRecordBytes(id, Buffer.from(sequence, 'latin1'), expectedLength, {
    chunk: (cid, seq) => out.chunks.push({ id: cid, sequence: latin1(seq) }),
    frame: (fid, nucleotide, protein) => out.frames.push({ id: fid, nucleotide: latin1(nucleotide), protein: latin1(protein) }),
  });
  return out;
}
