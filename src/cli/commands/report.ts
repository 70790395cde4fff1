/**
 * `virnucpro report OUTDIR [-o FILE]`: writes report.html again from a finished
 * predict run's output files. Flag parsing only; the work is in src/report/generate.ts.
 */
import type { Command } from 'commander';
import { writeReport } from '../../report/generate.js';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write report.html (one self-contained page: run summary, verdicts, score tracks, records, devices, metrics) from a predict output directory')
    .argument('<outdir>', 'output directory of a finished `virnucpro predict` run')
    .option('-o, --output <file>', 'where to write the page (default: OUTDIR/report.html)')
    .option('-q, --quiet', 'print nothing')
    .action(async (outDir: string, opts: { output?: string; quiet?: boolean }) => {
      const r = await writeReport({ outDir, output: opts.output });
      if (!opts.quiet) process.stdout.write(`wrote ${r.path} (${r.records} records, ${(r.bytes / 1024).toFixed(0)} KiB)\n`);
    });
}
