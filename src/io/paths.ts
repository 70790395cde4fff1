/**
 * Output names derived from input names.
 *
 * The original derives every path with `input.split('.fa')[0]`, which breaks
 * on directories or names that contain `.fa` elsewhere. Here the stem is the
 * file name (no directory) without its compression extension and then its
 * FASTA extension: `reads.fa` and `reads.fasta.gz` both give `reads`, which is
 * what the original produces for every ordinary name.
 *
 * Public API: `fastaStem(path): string`.
 */
import { basename } from 'node:path';

const COMPRESSION_EXT = /\.(gz|bgz|bz2|xz|zst|zstd)$/i;
const FASTA_EXT = /\.(fa|fasta|fna|ffn|frn|fas|fsa|faa|mpfa|seq)$/i;

export function fastaStem(path: string): string {
  const name = basename(path);
  const stem = name.replace(COMPRESSION_EXT, '').replace(FASTA_EXT, '');
  return stem === '' ? name : stem;
}
