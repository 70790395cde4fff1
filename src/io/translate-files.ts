/**
 * The `translate` stage as files: reads a FASTA (any supported compression)
 * and writes the three files the original `make_predictdata` writes, byte for
 * byte:
 * - `<stem>_chunked<N>.fa` — chunks, Biopython FASTA (60 columns, case kept)
 * - `<stem>_identified_nucleotide.fa` — kept frames' nucleotides, one line each
 * - `<stem>_identified_protein.faa` — kept frames' proteins, one line each
 * The original writes the chunk file, then re-reads it; since every chunk id
 * is a single word and the sequence is unchanged by the round trip, one
 * streaming pass gives the same bytes. All three files are written atomically:
 * on any error none of them appears.
 *
 * Public API:
 * - `translateOutputPaths(input, expectedLength, outDir): TranslateOutputs`
 * - `translateFile(options): Promise<TranslateSummary>`
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readFastaBatches } from './fasta.js';
import { FastaWriter } from './fasta-writer.js';
import { fastaStem } from './paths.js';
import { processRecordBytes } from '../seq/record.js';
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
  /** Input bytes after decompression. */
  sequenceBytes: number;
}

export interface TranslateOptions {
  input: string;
  expectedLength: number;
  outDir: string;
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

export async function translateFile(options: TranslateOptions): Promise<TranslateSummary> {
  const outputs = translateOutputPaths(options.input, options.expectedLength, options.outDir);
  mkdirSync(options.outDir, { recursive: true });
  const summary: TranslateSummary = {
    outputs,
    records: 0,
    emptyRecords: 0,
    shorterThanCodon: 0,
    chunks: 0,
    framesKept: 0,
    recordsWithoutFrame: 0,
    sequenceBytes: 0,
  };
  const writers = [
    new FastaWriter(outputs.chunked, { lineWidth: 60 }),
    new FastaWriter(outputs.nucleotide, { lineWidth: 0 }),
    new FastaWriter(outputs.protein, { lineWidth: 0 }),
  ];
  const [chunked, nucleotide, protein] = writers;
  const sink = {
    chunk: (id: string, seq: Uint8Array) => chunked.write(id, seq),
    frame: (id: string, nt: Uint8Array, aa: Uint8Array) => {
      nucleotide.write(id, nt);
      protein.write(id, aa);
    },
  };
  const progress = options.progress;
  try {
    const batches = readFastaBatches(options.input, {
      onProgress: (done) => progress?.update(done, `${summary.records} records`),
    });
    // One await per decompressed block; the block's records are processed synchronously.
    for await (const batch of batches) {
      for (const record of batch) {
        summary.records++;
        summary.sequenceBytes += record.length;
        if (record.length === 0) {
          summary.emptyRecords++;
          continue;
        }
        if (record.length < 3) summary.shorterThanCodon++;
        const counts = processRecordBytes(record.id, record.bytes, options.expectedLength, sink);
        summary.chunks += counts.chunks;
        summary.framesKept += counts.frames;
        if (counts.frames === 0) summary.recordsWithoutFrame++;
      }
    }
    for (const w of writers) w.commit();
  } catch (e) {
    for (const w of writers) w.abort();
    throw e;
  } finally {
    progress?.stop();
  }
  return summary;
}
