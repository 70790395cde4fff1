/**
 * The `translate` stage as files: reads a FASTA or FASTQ (any supported compression)
 * and writes the three files the original `make_predictdata` writes, byte for
 * byte:
 * - `<stem>_chunked<N>.fa` — chunks, Biopython FASTA (60 columns, case kept)
 * - `<stem>_identified_nucleotide.fa` — kept frames' nucleotides, one line each
 * - `<stem>_identified_protein.faa` — kept frames' proteins, one line each
 * The original writes the chunk file, then re-reads it; since every chunk id
 * is a single word and the sequence is unchanged by the round trip, one
 * streaming pass gives the same bytes. All three files are written atomically:
 * on any error none of them appears. `predict --keep-intermediate` writes the
 * same files while planning (plan.ts), through the same IntermediateFiles.
 *
 * Public API:
 * - `translateOutputPaths(input, expectedLength, outDir): TranslateOutputs`
 * - `class IntermediateFiles(paths)` — the three writers, fed by a record's chunks and frames
 * - `translateFile(options): Promise<TranslateSummary>`
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readSequenceBatches } from '../io/sequences.js';
import { FastaWriter } from '../io/fasta-writer.js';
import { fastaStem } from '../io/paths.js';
import { processRecordBytes, type RecordSink } from '../seq/record.js';
import type { Progress } from '../util/progress.js';

export interface TranslateOutputs {
  chunked: string;
  nucleotide: string;
  protein: string;
}

export interface TranslateSummary {
  outputs: TranslateOutputs;
  records: number;
  /** Records with no sequence (the original crashes on them); skipped. */
  emptyRecords: number;
  /** Non-empty records shorter than one codon: chunked, but no frame can exist. */
  shorterThanCodon: number;
  chunks: number;
  framesKept: number;
  /** Non-empty records none of whose chunks has a stop-free, non-empty frame. */
  recordsWithoutFrame: number;
  /** Records shorter than `minLength` (not empty): skipped. */
  tooShort: number;
}

export interface TranslateOptions {
  input: string;
  expectedLength: number;
  outDir: string;
  /** The file names, when they must not follow `input` (predict's copy of stdin); default translateOutputPaths. */
  outputs?: TranslateOutputs;
  /** Records shorter than this are skipped, as predict --min-length plans them; default 0. */
  minLength?: number;
  progress?: Progress;
}

export function translateOutputPaths(input: string, expectedLength: number, outDir: string): TranslateOutputs {
  const stem = fastaStem(input);
  return {
    chunked: join(outDir, `${stem}_chunked${expectedLength}.fa`),
    nucleotide: join(outDir, `${stem}_identified_nucleotide.fa`),
    protein: join(outDir, `${stem}_identified_protein.faa`),
  };
}

/** The original's three files, written as processRecordBytes hands out chunks and kept frames. */
export class IntermediateFiles implements RecordSink {
  private readonly chunked: FastaWriter;
  private readonly nucleotide: FastaWriter;
  private readonly protein: FastaWriter;

  constructor(paths: TranslateOutputs) {
    this.chunked = new FastaWriter(paths.chunked, { lineWidth: 60 });
    this.nucleotide = new FastaWriter(paths.nucleotide, { lineWidth: 0 });
    this.protein = new FastaWriter(paths.protein, { lineWidth: 0 });
  }

  chunk(id: string, seq: Uint8Array): void {
    this.chunked.write(id, seq);
  }

  frame(id: string, nt: Uint8Array, aa: Uint8Array): void {
    this.nucleotide.write(id, nt);
    this.protein.write(id, aa);
  }

  commit(): void {
    for (const w of [this.chunked, this.nucleotide, this.protein]) w.commit();
  }

  abort(): void {
    for (const w of [this.chunked, this.nucleotide, this.protein]) w.abort();
  }
}

export async function translateFile(options: TranslateOptions): Promise<TranslateSummary> {
  const outputs = options.outputs ?? translateOutputPaths(options.input, options.expectedLength, options.outDir);
  const minLength = options.minLength ?? 0;
  mkdirSync(options.outDir, { recursive: true });
  const summary: TranslateSummary = {
    outputs,
    records: 0,
    emptyRecords: 0,
    shorterThanCodon: 0,
    chunks: 0,
    framesKept: 0,
    recordsWithoutFrame: 0,
    tooShort: 0,
  };
  const files = new IntermediateFiles(outputs);
  const progress = options.progress;
  try {
    const batches = readSequenceBatches(options.input, {
      onProgress: (done) => progress?.update(done, `${summary.records} records`),
    });
    // One await per decompressed block; the block's records are processed synchronously.
    for await (const batch of batches) {
      for (const record of batch) {
        summary.records++;
        if (record.length === 0) {
          summary.emptyRecords++;
          continue;
        }
        if (record.length < minLength) {
          summary.tooShort++;
          continue;
        }
        if (record.length < 3) summary.shorterThanCodon++;
        const counts = processRecordBytes(record.id, record.bytes, options.expectedLength, files);
        summary.chunks += counts.chunks;
        summary.framesKept += counts.frames;
        if (counts.frames === 0) summary.recordsWithoutFrame++;
      }
    }
    files.commit();
  } catch (e) {
    files.abort();
    throw e;
  } finally {
    progress?.stop();
  }
  return summary;
}
