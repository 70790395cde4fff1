/**
 * `virnucpro translate INPUT -e N -o DIR`: VirNucPro's sequence stages
 * (chunking, six-frame translation, frame selection) without any model.
 * Flag parsing only; the work is in src/pipeline/translate-files.ts.
 */
import type { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { translateFile } from '../../pipeline/translate-files.js';
import { UsageError } from '../../util/errors.js';
import { createProgress } from '../../util/progress.js';

function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) {
    throw new UsageError(`--expected-length must be a positive integer (VirNucPro's models use 300 or 500), got '${value}'`);
  }
  return Number(value);
}

export function registerTranslate(program: Command): void {
  program
    .command('translate')
    .description('chunk, six-frame translate and select stop-free frames, writing the FASTA files VirNucPro writes')
    .argument('<input>', 'FASTA or FASTQ file, told apart by content (plain, gzip, bzip2, xz or zstd)')
    .requiredOption('-e, --expected-length <N>', 'chunk length: 300 or 500 for the published models', positiveInteger)
    .option('-o, --out-dir <dir>', 'output directory', '.')
    .option('-q, --quiet', 'no progress and no summary')
    .action(async (input: string, opts: { expectedLength: number; outDir: string; quiet?: boolean }) => {
      let total = 0;
      try {
        total = (await stat(input)).size;
      } catch {
        // translateFile reports unreadable input with a proper message.
      }
      const progress = createProgress({ label: 'translate', total, unit: 'bytes', quiet: opts.quiet });
      const s = await translateFile({ input, expectedLength: opts.expectedLength, outDir: opts.outDir, progress });
      if (opts.quiet) return;
      const notes: string[] = [];
      if (s.emptyRecords) notes.push(`${s.emptyRecords} empty (skipped)`);
      if (s.shorterThanCodon) notes.push(`${s.shorterThanCodon} shorter than a codon`);
      const lines = [
        `records: ${s.records}${notes.length ? ` (${notes.join(', ')})` : ''}`,
        `chunks: ${s.chunks}`,
        `frames kept: ${s.framesKept}`,
        `records with no stop-free frame: ${s.recordsWithoutFrame}`,
        `wrote ${s.outputs.chunked}`,
        `wrote ${s.outputs.nucleotide}`,
        `wrote ${s.outputs.protein}`,
      ];
      process.stdout.write(lines.join('\n') + '\n');
    });
}
