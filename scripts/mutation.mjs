#!/usr/bin/env node
// `npm run mutation [-- MODULE...]`: StrykerJS over the modules named (all of
// stryker.config.mjs's MODULES when none is), one report per selection under
// reports/mutation/. The module list travels to the config file as MUTATION_MODULES.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MODULES } from '../stryker.config.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const modules = process.argv.slice(2);
for (const m of modules) {
  if (!(m in MODULES)) {
    console.error(`unknown module '${m}'; choose from: ${Object.keys(MODULES).join(' ')}`);
    process.exit(2);
  }
}
const stryker = join(dirname(createRequire(import.meta.url).resolve('@stryker-mutator/core/package.json')), 'bin', 'stryker.js');
const started = Date.now();
const run = spawnSync(process.execPath, [stryker, 'run', 'stryker.config.mjs'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, MUTATION_MODULES: modules.join(',') || process.env.MUTATION_MODULES || '' },
});
console.error(`mutation testing of ${modules.join(', ') || 'all modules'} took ${Math.round((Date.now() - started) / 1000)} s`);
process.exit(run.status ?? 1);
