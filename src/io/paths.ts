/**
 * Output names derived from input names.
 *
 * The original derives every path with `input.split('.fa')[0]`, which breaks
 * on directories or names that contain `.fa` elsewhere. Here the stem is the
 * file name (no directory) without its compression extension and then its
 * FASTA or FASTQ extension: `reads.fa`, `reads.fasta.gz` and `reads.fq.zst`
 * all give `reads`, which is what the original produces for every ordinary
 * FASTA name. Standard input (`-`) has the stem `stdin`.
 *
 * Public API: `STDIN_PATH`, `fastaStem(path): string`.
 */
import { basename } from 'node:path';

/** The input name that means standard input. */
export const STDIN_PATH = '-';

const COMPRESSION_EXT = /\.(gz|bgz|bz2|xz|zst|zstd)$/i;
const SEQUENCE_EXT = /\.(fa|fasta|fna|ffn|frn|fas|fsa|faa|mpfa|seq|fq|fastq)$/i;

export function fastaStem(path: string): string {
  if (path === STDIN_PATH) return 'stdin';
  const name = basename(path);
  const stem = name.replace(COMPRESSION_EXT, '').replace(SEQUENCE_EXT, '');
  return stem === '' ? name : stem;
}
