/**
 * Chunking, bit-exact with VirNucPro's `units.split_fasta_chunk`.
 *
 * A record of length `len` is cut into `n = ceil(len / L)` windows of at most
 * `L` bases. The original spreads the surplus `n*L - len` over `n` (not `n-1`)
 * gaps, so the windows overlap unevenly and the last one is often short:
 * 1234 nt with L=500 gives 500 (start 0), 500 (start 411), 412 (start 822).
 * This module reproduces that arithmetic exactly, including its odd corners
 * (`a > 1` instead of `a > 0`, lists truncated by `zip`), because the
 * published classifier was trained on these windows.
 *
 * Public API:
 * - `chunkSpans(length, expectedLength): ChunkSpan[]` — where the windows lie.
 * - `forEachChunkSpan(length, expectedLength, visit): number` — the same without lists.
 * - `chunkId(recordId, k)` — `<id>_chunk_<k>` (k 1-based).
 * - `chunkSequence(id, seq, expectedLength): Chunk[]` — the windows as strings.
 */

/** One chunk window: `[start, end)` in the record's sequence, `index` 1-based. */
export interface ChunkSpan {
  index: number;
  start: number;
  end: number;
}

export interface Chunk {
  /** `<record id>_chunk_<k>` */
  id: string;
  /** The window of the record's sequence, case preserved. */
  sequence: string;
}

/** Python's index for a slice bound `i` on a sequence of `length` (step 1). */
function pySliceIndex(i: number, length: number): number {
  // Stryker disable next-line ArithmeticOperator: the negative branch is unreachable here (a window never starts before 0)
  return i < 0 ? Math.max(0, i + length) : Math.min(i, length);
}

/**
 * The windows `split_fasta_chunk` cuts from a record of `length` bases.
 * An empty record (which crashes the original with ZeroDivisionError) gives
 * no windows; callers report it.
 */
export function chunkSpans(length: number, expectedLength: number): ChunkSpan[] {
  const spans: ChunkSpan[] = [];
  forEachChunkSpan(length, expectedLength, (index, start, end) => spans.push({ index, start, end }));
  return spans;
}

/**
 * The same windows without building lists (the translate hot path): calls
 * `visit(index, start, end)` for each, in order, and returns how many.
 */
export function forEachChunkSpan(length: number, expectedLength: number, visit: (index: number, start: number, end: number) => void): number {
  if (!Number.isInteger(expectedLength) || expectedLength < 1) {
    throw new RangeError(`expected length must be a positive integer, got ${expectedLength}`);
  }
  if (length <= 0) return 0;
  const L = expectedLength;
  const numChunks = Math.ceil(length / L);
  const repeatLength = numChunks * L - length;
  // int(repeat_length / num_chunks): float division then truncation toward zero (both non-negative).
  const lowerInt = Math.trunc(repeatLength / numChunks);
  const upperInt = lowerInt + 1;
  const needToAddUp = repeatLength - lowerInt * (numChunks - 1);
  // The original's steps list is [upper]*need + [lower]*(n-1-need) + [0] (a negative repeat count gives
  // an empty run in Python). It has at least numChunks entries (need >= 0), so zip() with
  // range(0, len, L) always yields numChunks windows; step k is computed here instead of listed.
  const lowerEnd = needToAddUp + Math.max(0, numChunks - 1 - needToAddUp);
  let moveStep = 0;
  for (let k = 0; k < numChunks; k++) {
    const a = k * L;
    // s[a - move : a - move + L] when a > 1 (the original's test), else s[a : a + L]; Python clamps slice bounds.
    const from = a > 1 ? a - moveStep : a;
    const start = pySliceIndex(from, length);
    visit(k + 1, start, Math.max(start, pySliceIndex(from + L, length)));
    moveStep += k < needToAddUp ? upperInt : k < lowerEnd ? lowerInt : 0;
  }
  return numChunks;
}

export function chunkId(recordId: string, index: number): string {
  return `${recordId}_chunk_${index}`;
}

/** `split_fasta_chunk` for one record: the chunks with their ids, case preserved. */
export function chunkSequence(id: string, sequence: string, expectedLength: number): Chunk[] {
  return chunkSpans(sequence.length, expectedLength).map((s) => ({
    id: chunkId(id, s.index),
    sequence: sequence.slice(s.start, s.end),
  }));
}
