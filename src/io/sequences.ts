/**
 * Sequence input for the pipeline: FASTA or FASTQ, from a file or a stream read
 * once (stdin), plain or compressed (decompress.ts). The format is chosen by
 * content, never by name: the first byte that is not blank (space, tab, CR,
 * LF) after decompression is `@` for FASTQ; anything else goes to the FASTA
 * reader, which also gives the errors for empty or non-sequence input.
 * Both readers yield the same `FastaRecord`s (fasta.ts, fastq.ts).
 *
 * Public API:
 * - `type SequenceSource = string | { name, stream }` (a path, or a stream with its name for messages)
 * - `readSequenceBatches(source, options?)`, `readSequences(source, options?)`
 *   (as readFastaBatches/readFasta; `options.onFormat` hears the format once it is known)
 * - `class SequenceParser(name, options)`: `push`/`end`, the detecting core; `format` once known.
 */
import { FastaParser, type FastaRecord, type ReadFastaOptions } from './fasta.js';
import { FastqParser } from './fastq.js';
import { openDecompressed, openDecompressedStream } from './decompress.js';

export type SequenceFormat = 'fasta' | 'fastq';

/** A file path, or a stream read once with the name messages give it. */
export type SequenceSource = string | { name: string; stream: AsyncIterable<Uint8Array> };

export interface ReadSequencesOptions extends ReadFastaOptions {
  /** Called once the format is known (before the first record). */
  onFormat?: (format: SequenceFormat) => void;
}

export function sourceName(source: SequenceSource): string {
  return typeof source === 'string' ? source : source.name;
}

const isBlank = (b: number) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;

/** Holds the first blocks until a non-blank byte says which format it is, then parses with that format's reader. */
export class SequenceParser {
  private inner: FastaParser | FastqParser | null = null;
  private held: Uint8Array[] = [];
  format: SequenceFormat | null = null;

  constructor(
    readonly name: string,
    private readonly options: ReadSequencesOptions = {},
  ) {}

  push(chunk: Uint8Array): FastaRecord[] {
    if (this.inner) return this.inner.push(chunk);
    this.held.push(chunk);
    const first = chunk.findIndex((b) => !isBlank(b));
    if (first < 0) return [];
    return this.choose(chunk[first] === 0x40 ? 'fastq' : 'fasta');
  }

  end(): FastaRecord[] {
    // Only blank bytes (or none): the FASTA reader says the file holds no records.
    const records = this.inner ? [] : this.choose('fasta');
    return [...records, ...this.inner!.end()];
  }

  private choose(format: SequenceFormat): FastaRecord[] {
    this.format = format;
    this.options.onFormat?.(format);
    this.inner = format === 'fastq' ? new FastqParser(this.name, this.options) : new FastaParser(this.name, this.options);
    const held = this.held;
    this.held = [];
    return held.flatMap((c) => this.inner!.push(c));
  }
}

export async function* readSequenceBatches(source: SequenceSource, options: ReadSequencesOptions = {}): AsyncGenerator<FastaRecord[]> {
  let fileBytes = 0;
  const observers = { onRawBytes: (n: number) => options.onProgress?.(n, fileBytes), onRawChunk: options.onRawChunk };
  const input = typeof source === 'string' ? await openDecompressed(source, observers) : await openDecompressedStream(source.name, source.stream, observers);
  fileBytes = input.fileBytes;
  const parser = new SequenceParser(sourceName(source), options);
  for await (const chunk of input.chunks) {
    const records = parser.push(chunk);
    if (records.length > 0) yield records;
  }
  const last = parser.end();
  if (last.length > 0) yield last;
}

export async function* readSequences(source: SequenceSource, options: ReadSequencesOptions = {}): AsyncGenerator<FastaRecord> {
  for await (const batch of readSequenceBatches(source, options)) yield* batch;
}
