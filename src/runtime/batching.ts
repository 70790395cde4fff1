/**
 * Length-sorted batching under a token budget. A batch of n sequences padded
 * to the longest costs n * maxLen tokens; sorting by length keeps that close
 * to the real token count (little padding), and the budget bounds the memory
 * of one forward pass. A sequence longer than the budget runs alone.
 */

export interface Batch {
  /** Positions in the caller's input list, longest first. */
  indices: number[];
  /** Padded length of the batch (its longest sequence). */
  maxLen: number;
}

export interface BatchPlanOptions {
  /** Padded tokens per batch (rows x maxLen). */
  batchTokens: number;
  /** Upper bound on rows per batch (default unbounded). */
  maxRows?: number;
}

/** Plans batches over `lengths` (token counts): longest first, ties in input order. */
export function planBatches(lengths: readonly number[], options: BatchPlanOptions): Batch[] {
  const { batchTokens, maxRows = Number.POSITIVE_INFINITY } = options;
  if (!(batchTokens >= 1)) throw new RangeError(`batchTokens must be >= 1, got ${batchTokens}`);
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[b] - lengths[a] || a - b);
  const batches: Batch[] = [];
  let current: Batch | null = null;
  for (const i of order) {
    if (current && (current.indices.length + 1) * current.maxLen <= batchTokens && current.indices.length < maxRows) {
      current.indices.push(i);
    } else {
      current = { indices: [i], maxLen: lengths[i] };
      batches.push(current);
    }
  }
  return batches;
}

/** Fraction of padded positions in a batch plan (0 = no padding). */
export function paddingWaste(lengths: readonly number[], batches: readonly Batch[]): number {
  let padded = 0;
  let real = 0;
  for (const b of batches) {
    padded += b.maxLen * b.indices.length;
    for (const i of b.indices) real += lengths[i];
  }
  return padded === 0 ? 0 : 1 - real / padded;
}
