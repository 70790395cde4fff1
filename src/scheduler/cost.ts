/**
 * Cost model: estimated forward-pass FLOPs of a shard, so shards are assigned
 * by compute rather than by sequence count. A transformer layer over L tokens
 * costs a linear term (2 FLOPs per multiply-add of every weight matrix, per
 * token) plus attention's quadratic term (QK^T and attention x V: 2 * 2 * L^2 * width).
 * Embedding lookups, layer norms and softmax are lower-order and left out.
 */
import type { DnabertConfig, Esm2Config } from '../models/config.js';

/** FLOPs of one ESM-2 forward pass over `tokens` tokens (including cls/eos). */
export function esm2SequenceFlops(config: Esm2Config, tokens: number): number {
  const e = config.embedDim;
  // q, k, v, out projections (4 E^2) and fc1 + fc2 (2 E F) per token.
  const linear = 2 * tokens * (4 * e * e + 2 * e * config.ffnDim);
  const attention = 4 * tokens * tokens * e;
  return config.numLayers * (linear + attention);
}

/** FLOPs of one DNABERT-S forward pass over `tokens` tokens (including [CLS]/[SEP]). */
export function dnabertSequenceFlops(config: DnabertConfig, tokens: number): number {
  const h = config.hiddenSize;
  const i = config.intermediateSize;
  // Wqkv (3 H^2), output dense (H^2), gated_layers (2 I H) and wo (I H) per token.
  const linear = 2 * tokens * (4 * h * h + 3 * h * i);
  const attention = 4 * tokens * tokens * h;
  return config.numLayers * (linear + attention);
}

/** Token counts of a shard's sequences, one entry per model input sequence. */
export interface ShardTokenCounts {
  /** DNABERT-S token counts of the nucleotide sequences. */
  dnaTokens: readonly number[];
  /** ESM-2 token counts of the protein sequences. */
  proteinTokens: readonly number[];
}

/** Estimated FLOPs of a shard for both models: the `cost` of its ShardDescriptor. */
export function shardCost(counts: ShardTokenCounts, models: { dnabert: DnabertConfig; esm2: Esm2Config }): number {
  let flops = 0;
  for (const t of counts.dnaTokens) flops += dnabertSequenceFlops(models.dnabert, t);
  for (const t of counts.proteinTokens) flops += esm2SequenceFlops(models.esm2, t);
  return flops;
}
