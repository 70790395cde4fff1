/**
 * `virnucpro models ...`: a command group. Each subcommand is registered by
 * its own small function (here or in models-<name>.ts) taking the group.
 */
import type { Command } from 'commander';
import { detectModel, type DetectedModel } from '../../models/detect.js';
import { registerModelsDemo } from './models-demo.js';
import { registerModelsFetch } from './models-fetch.js';
import { registerModelsList } from './models-list.js';
import { registerModelsPrepare } from './models-prepare.js';

export function registerModels(program: Command): void {
  const models = program.command('models').description('inspect, fetch and prepare model weights');
  registerModelsInfo(models);
  registerModelsList(models);
  registerModelsFetch(models);
  registerModelsPrepare(models);
  registerModelsDemo(models);
}

/** `virnucpro models info PATH [--json]`: what kind of model a path holds, its config and tensors. */
export function registerModelsInfo(models: Command): void {
  models
    .command('info')
    .description('tell which model a file or directory holds (fair-esm, Hugging Face, classifier, bundle), with its config and tensors')
    .argument('<path>', 'a fair-esm .pt, a Hugging Face model directory, a classifier .pth, or a prepared bundle')
    .option('--json', 'print kind, config and every tensor (name, dtype, shape) as JSON')
    .action(async (path: string, opts: { json?: boolean }) => {
      const info = await detectModel(path);
      process.stdout.write(opts.json ? JSON.stringify(info, null, 2) + '\n' : renderModelInfo(info));
    });
}

const KIND_NAMES: Record<DetectedModel['kind'], string> = {
  esm2: 'ESM-2',
  'dnabert-s': 'DNABERT-S',
  classifier: 'VirNucPro classifier (MLPClassifier)',
  bundle: 'prepared bundle',
};

function paramCount(info: DetectedModel): number {
  return info.tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
}

/** Human-readable description: kind, format, config, files, then one line per tensor. */
export function renderModelInfo(info: DetectedModel): string {
  const out: string[] = [`${info.path}`, `  kind:    ${KIND_NAMES[info.kind]}`, `  format:  ${info.format}`];
  const cfg = info.config as Record<string, unknown>;
  out.push('  config:');
  for (const [k, v] of Object.entries(cfg)) out.push(`    ${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  out.push('  files:');
  for (const f of info.files) out.push(`    ${f}`);
  if (info.tensors.length > 0) {
    const dtypes = [...new Set(info.tensors.map((t) => t.dtype))].join(', ');
    out.push(`  tensors: ${info.tensors.length} (${paramCount(info).toLocaleString('en-US')} values; ${dtypes})`);
    const width = Math.max(...info.tensors.map((t) => t.name.length));
    for (const t of info.tensors) out.push(`    ${t.name.padEnd(width)}  ${t.dtype.padEnd(8)}  [${t.shape.join(', ')}]`);
  }
  return out.join('\n') + '\n';
}
