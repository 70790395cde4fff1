/**
 * The flags that name the models, shared by `predict` and `worker` (a worker
 * must be started with the same models as the runs it serves).
 */
import { Option, type Command } from 'commander';
import type { ModelChoice } from '../pipeline/models.js';
import { PREDICT_DEFAULTS } from '../pipeline/predict-options.js';

export interface ModelFlags {
  models?: string;
  esm?: string;
  dnabert?: string;
  classifier?: string;
  demo?: boolean;
  precision: 'fp32' | 'fp16';
  cacheDir?: string;
}

/** --models, --esm, --dnabert, --classifier, --demo, --precision, --cache-dir. */
export function addModelOptions(cmd: Command): Command {
  return cmd
    .option('--models <bundle>', 'prepared model bundle (virnucpro models prepare)')
    .option('--esm <path>', 'ESM-2 weights: fair-esm .pt or Hugging Face directory')
    .option('--dnabert <dir>', 'DNABERT-S Hugging Face directory (config.json, tokenizer.json, weights)')
    .option('--classifier <pth>', 'VirNucPro classifier (300_model.pth / 500_model.pth)')
    .option('--demo', 'use the built-in tiny demo models (scores mean nothing; for trying the tool)')
    .addOption(new Option('--precision <p>', 'precision of graphs built from raw weights').choices(['fp32', 'fp16']).default(PREDICT_DEFAULTS.precision))
    .option('--cache-dir <dir>', 'model and graph cache (default: $VIRNUCPRO_CACHE or ~/.cache/virnucpro)');
}

/** The models the flags name, as the pipeline takes them (its other choices are the command's own). */
export function modelChoiceFrom(flags: ModelFlags): Pick<ModelChoice, 'bundle' | 'esm' | 'dnabert' | 'classifier' | 'demo' | 'precision' | 'cacheDir'> {
  return { bundle: flags.models, esm: flags.esm, dnabert: flags.dnabert, classifier: flags.classifier, demo: flags.demo, precision: flags.precision, cacheDir: flags.cacheDir };
}
