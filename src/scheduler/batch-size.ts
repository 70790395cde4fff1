/**
 * `--batch-tokens auto`: how many padded tokens one forward pass may hold, from
 * the memory of the run's devices, so that a GPU with 80-141 GB runs far larger
 * batches than the CPU's 4096 tokens.
 *
 * Why one value per run and not one per device: batch composition changes the
 * float rounding of the embeddings (a sequence padded into another batch goes
 * through matrix products of another shape; seen here: up to 6e-8 on the
 * fixture ESM-2), and a run's results must not depend on which device computed
 * which shard (work stealing moves shards). So `auto` takes the smallest value
 * over the run's devices, the run's fingerprint records the number (a resume
 * reuses it), and it is an opt-in: without it every run batches 4096 tokens, as
 * before, and results are byte-identical whatever the devices.
 *
 * The memory model is deliberately coarse and errs on the safe side:
 *   weights of both encoders (both sessions stay open on the device)
 *   + per padded token, for each encoder (each session's arena keeps its peak):
 *       6 float32 vectors of the model width alive around attention (residual, norm, q, k, v, output),
 *       scores and probabilities of plain attention: 2 x heads x sequence length float32,
 *       3 vectors of the FFN width in the compute precision (fc1 output, GELU temporaries);
 *   x 2 for the allocator (ONNX Runtime's CUDA arena grows in powers of two),
 *   in 90% of the device's memory less 2 GiB for the CUDA context and cuBLAS/cuDNN workspaces.
 * ESM-2 3B in fp16 on an H200 (143,771 MiB) with -e 500 then gets about 240k tokens.
 */
import type { DnabertConfig, Esm2Config } from '../models/config.js';
import { DEFAULT_BATCH_TOKENS } from '../runtime/embedders.js';
import { MAX_BATCH_TOKENS } from './limits.js';
import type { DeviceSpec } from './types.js';

export interface BatchModels {
  esm2: Esm2Config;
  dnabert: DnabertConfig;
  precision: 'fp32' | 'fp16';
}

/** Longest sequences a run can hold, in tokens (for predict: from the chunk length). */
export interface SequenceBounds {
  proteinTokens: number;
  nucleotideTokens: number;
}

const GIB = 2 ** 30;
/** Share of the device's memory we plan to use (other processes, fragmentation). */
const USABLE_SHARE = 0.9;
/** CUDA context, cuBLAS and cuDNN workspaces. */
const RESERVED_BYTES = 2 * GIB;
/** ONNX Runtime's arena extends in powers of two: up to twice what a pass needs. */
const ARENA_FACTOR = 2;
/** Batches are a multiple of this (and never smaller). */
const GRANULE = 1024;

/**
 * For predict: a chunk of L bases gives proteins of at most L/3 residues (+ <cls>, <eos>) and at
 * most L + 2 DNABERT-S tokens (BPE gives fewer; one per base is the bound).
 */
export function sequenceBoundsForChunk(expectedLength: number): SequenceBounds {
  return { proteinTokens: Math.floor(expectedLength / 3) + 2, nucleotideTokens: expectedLength + 2 };
}

function esm2Parameters(c: Esm2Config): number {
  const E = c.embedDim;
  const F = c.ffnDim;
  return c.vocabSize * E + c.numLayers * (4 * E * E + 4 * E + 2 * E * F + F + E + 4 * E) + 2 * E;
}

function dnabertParameters(c: DnabertConfig): number {
  const H = c.hiddenSize;
  const I = c.intermediateSize;
  return (c.vocabSize + c.typeVocabSize + 2) * H + c.numLayers * (3 * H * H + 3 * H + H * H + H + 2 * I * H + I * H + H + 4 * H);
}

/** Bytes the weights of both encoders take on a device. */
export function weightBytes(m: BatchModels): number {
  const bytes = m.precision === 'fp16' ? 2 : 4;
  return (esm2Parameters(m.esm2) + dnabertParameters(m.dnabert)) * bytes;
}

/** Peak activation bytes per padded token of one encoder's forward pass (see the model above). */
export function activationBytesPerToken(width: number, heads: number, ffn: number, seqLen: number, precision: 'fp32' | 'fp16'): number {
  const compute = precision === 'fp16' ? 2 : 4;
  return 6 * width * 4 + 2 * heads * seqLen * 4 + 3 * ffn * compute;
}

/** Padded tokens per batch that fit in `memoryMiB` with both encoders loaded; `fits` is false when even the weights do not fit. */
export function batchTokensForMemory(memoryMiB: number, m: BatchModels, bounds: SequenceBounds): { tokens: number; fits: boolean } {
  const usable = memoryMiB * 2 ** 20 * USABLE_SHARE - RESERVED_BYTES - weightBytes(m);
  const perToken =
    ARENA_FACTOR *
    (activationBytesPerToken(m.esm2.embedDim, m.esm2.numHeads, m.esm2.ffnDim, bounds.proteinTokens, m.precision) +
      activationBytesPerToken(m.dnabert.hiddenSize, m.dnabert.numHeads, m.dnabert.intermediateSize, bounds.nucleotideTokens, m.precision));
  const raw = Math.floor(usable / perToken / GRANULE) * GRANULE;
  return { tokens: Math.min(MAX_BATCH_TOKENS, Math.max(GRANULE, raw)), fits: raw >= GRANULE };
}

/**
 * The run's batch size for `--batch-tokens auto`: the smallest over its devices. A CUDA GPU gets
 * what its memory (nvidia-smi's memory.total) holds; the CPU keeps DEFAULT_BATCH_TOKENS (larger
 * batches run no faster there), as does a device of unknown memory (WebGPU: Dawn does not say).
 */
export function autoBatchTokens(
  devices: readonly DeviceSpec[],
  m: BatchModels,
  bounds: SequenceBounds,
): { tokens: number; limitedBy: DeviceSpec; fits: boolean } {
  let best: { tokens: number; limitedBy: DeviceSpec; fits: boolean } | undefined;
  for (const d of devices) {
    const own = d.kind === 'cuda' && d.memoryMiB !== undefined ? batchTokensForMemory(d.memoryMiB, m, bounds) : { tokens: DEFAULT_BATCH_TOKENS, fits: true };
    if (!best || own.tokens < best.tokens) best = { ...own, limitedBy: d };
  }
  if (!best) throw new Error('autoBatchTokens: no devices');
  return best;
}
