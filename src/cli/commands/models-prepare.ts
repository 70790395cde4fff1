/**
 * `virnucpro models prepare --esm PATH --dnabert DIR --classifier PTH --out DIR [--fp16]`:
 * builds the three ONNX graphs into a bundle (models/bundle.ts), streaming
 * the weights, atomically. Flag parsing only.
 */
import type { Command } from 'commander';
import { writeBundle } from '../../models/bundle.js';
import { loadClassifier, loadDnabert, loadEsm2 } from '../../models/load.js';
import { UsageError } from '../../util/errors.js';

export function registerModelsPrepare(models: Command): void {
  models
    .command('prepare')
    .description('convert the model files into a bundle of ONNX graphs with external weights + manifest.json')
    .option('--esm <path>', 'ESM-2: fair-esm .pt checkpoint or Hugging Face directory')
    .option('--dnabert <dir>', 'DNABERT-S Hugging Face directory (with tokenizer.json)')
    .option('--classifier <pth>', 'VirNucPro classifier (.pth whole module or state_dict)')
    .requiredOption('--out <dir>', 'bundle directory to create')
    .option('--fp16', 'store ESM-2 and DNABERT-S weights in float16 and compute in float16 (LayerNorm/softmax stay float32)')
    .option('--force', 'replace an existing bundle at --out')
    .option('-q, --quiet', 'no progress lines')
    .action(async (opts: { esm?: string; dnabert?: string; classifier?: string; out: string; fp16?: boolean; force?: boolean; quiet?: boolean }) => {
      if (!opts.esm && !opts.dnabert && !opts.classifier) throw new UsageError('give at least one of --esm, --dnabert, --classifier');
      const log = (line: string) => {
        if (!opts.quiet) process.stderr.write(`${line}\n`);
      };
      const started = Date.now();
      const manifest = await writeBundle(
        opts.out,
        {
          esm2: opts.esm ? await loadEsm2(opts.esm) : undefined,
          dnabert: opts.dnabert ? { model: await loadDnabert(opts.dnabert), tokenizerPath: `${opts.dnabert.replace(/\/+$/, '')}/tokenizer.json` } : undefined,
          classifier: opts.classifier ? await loadClassifier(opts.classifier) : undefined,
        },
        { precision: opts.fp16 ? 'fp16' : 'fp32', sourceChecksums: true, overwrite: opts.force, log },
      );
      log(`bundle ${opts.out}: ${Object.keys(manifest.models).join(', ')} (${manifest.precision}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    });
}
