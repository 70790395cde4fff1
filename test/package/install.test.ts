/**
 * The npm package as a user gets it: `npm pack`, then `npm install -g` of the tarball into a temporary
 * prefix and `npm install` into a temporary project, CPU only, with nothing downloaded from outside the
 * npm registry; then the installed `virnucpro` binary runs predict on the demo models, and the installed
 * library is imported and type-checked from the project.
 *
 * Network: the installs use `--prefer-offline`, so npm takes packages and their metadata from its cache
 * (a machine that ran `npm ci` has every tarball). npm 11 resolves a tarball's dependencies from full
 * registry metadata, which `npm ci` does not cache: the first run on a fresh machine fetches that
 * metadata from the npm registry, later runs need no network at all. Nothing outside the registry is
 * ever reached: onnxruntime-node's CUDA download is skipped as the README's "Install" section says
 * (ONNXRUNTIME_NODE_INSTALL=skip), and its download code is pointed at a closed local port
 * (GLOBAL_AGENT_HTTPS_PROXY), so were it to run anyway, the install would fail instead of downloading.
 *
 * Slow (about a minute: a build, two installs of onnxruntime-node's 100 MB, a demo run); one test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { repoRoot, tempDir } from '../helpers.js';

const MINUTES = 60_000;

function run(cmd: string, args: string[], options: SpawnSyncOptions & { what: string }): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5 * MINUTES, ...options });
  assert.equal(r.status, 0, `${options.what} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}\n${r.stderr}`);
  return String(r.stdout);
}

test('npm pack, then a global and a project install of the tarball, CPU only, run the CLI and the library', { timeout: 15 * MINUTES }, () => {
  const tmp = tempDir('virnucpro-package-');
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  // The installs and the runs must not read this repository's configuration or caches.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ONNXRUNTIME_NODE_INSTALL: 'skip',
    GLOBAL_AGENT_HTTPS_PROXY: 'http://127.0.0.1:9',
    GLOBAL_AGENT_HTTP_PROXY: 'http://127.0.0.1:9',
    VIRNUCPRO_CACHE: join(tmp, 'virnucpro-cache'),
    npm_config_update_notifier: 'false',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
  };

  // ---- pack: `prepare` is the build, and the tarball holds the built library, its types and nothing of the sources
  assert.equal(pkg.scripts.prepare, 'npm run build', '`npm ci` and `npm pack` build through prepare');
  run('npm', ['run', 'build'], { cwd: repoRoot, env, what: 'npm run build' });
  const packed = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], { cwd: repoRoot, env, what: 'npm pack' }));
  const files = new Set<string>(packed[0].files.map((f: { path: string }) => f.path));
  for (const f of ['dist/cli/main.js', 'dist/api/index.js', 'dist/api/index.d.ts', 'dist/pipeline/shard-worker.js', 'dist/scheduler/worker-main.js']) {
    assert.ok(files.has(f), `the tarball has ${f}`);
  }
  for (const f of ['LICENSE', 'CITATION.cff', 'README.md', 'docs/api.md', 'examples/example.fa', 'assets/demo/dnabert-s-tokenizer.json']) {
    assert.ok(files.has(f), `the tarball has ${f}`);
  }
  const strays = [...files].filter((f) => /^(src|test|bench|node_modules)\//.test(f) || f.endsWith('.map') || f === 'package-lock.json');
  assert.deepEqual(strays, [], 'no sources, tests, source maps or lockfile in the tarball');
  const tarball = join(tmp, packed[0].filename);

  // ---- global install, as `npm install -g virnucpro-X.tgz`, into its own prefix
  const prefix = join(tmp, 'prefix');
  const npmInstall = ['install', '--prefer-offline', '--no-audit', '--no-fund'];
  run('npm', [...npmInstall, '-g', '--prefix', prefix, tarball], { cwd: tmp, env, what: 'npm install -g' });
  const bin = join(prefix, 'bin', 'virnucpro');
  const installed = join(prefix, 'lib', 'node_modules', 'virnucpro');
  assert.equal(run(bin, ['--version'], { cwd: tmp, env, what: 'virnucpro --version' }).trim(), pkg.version);
  const ort = join(installed, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', process.platform, process.arch);
  assert.ok(!existsSync(join(ort, 'libonnxruntime_providers_cuda.so')), 'no CUDA provider downloaded');

  const out = join(tmp, 'global-run');
  run(bin, ['predict', join(installed, 'examples', 'example.fa'), '-e', '500', '--demo', '--devices', 'cpu', '-o', out, '-q'], {
    cwd: tmp,
    env,
    what: 'the installed virnucpro predict --demo',
  });
  const runJson = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
  assert.equal(runJson.complete, true);
  assert.equal(runJson.tool.version, pkg.version, 'the installed copy finds its package.json');
  assert.ok(existsSync(join(out, 'summary.tsv')));

  // ---- project install: the library, with its types, from a project that depends on the tarball
  const project = join(tmp, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-virnucpro', version: '1.0.0', private: true, type: 'module' }));
  run('npm', [...npmInstall, tarball], { cwd: project, env, what: 'npm install (project)' });
  const library = run(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const v = await import('virnucpro');
       const r = await v.predict({ input: ${JSON.stringify(join(installed, 'examples', 'example.fa'))}, expectedLength: 500, models: { demo: true }, devices: 'cpu', outDir: 'lib-run' });
       console.log(JSON.stringify({ exports: Object.keys(v).sort(), version: v.version, records: r.counts.records, demo: r.demoModels }));`,
    ],
    { cwd: project, env, what: "import('virnucpro') and predict()" },
  );
  const seen = JSON.parse(library.trim().split('\n').at(-1)!);
  assert.deepEqual(seen.exports, ['ExitCode', 'InputError', 'ResourceError', 'UsageError', 'VirnucproError', 'demoModels', 'embed', 'predict', 'version']);
  assert.equal(seen.version, pkg.version);
  assert.equal(seen.records, runJson.counts.records);
  assert.equal(seen.demo, true);
  // Deep imports stay private: only the `exports` map's entry points resolve.
  const deep = spawnSync(process.execPath, ['--input-type=module', '-e', "await import('virnucpro/dist/pipeline/predict.js')"], { cwd: project, env, encoding: 'utf8' });
  assert.notEqual(deep.status, 0);
  assert.match(deep.stderr, /ERR_PACKAGE_PATH_NOT_EXPORTED/);

  // The types resolve through `exports` (NodeNext), and a wrong option is a type error.
  writeFileSync(
    join(project, 'use.ts'),
    `import { predict, type PredictParams, type PredictResult, UsageError } from 'virnucpro';
const params: PredictParams = { input: 'reads.fa', expectedLength: 500, models: { demo: true } };
export const result: Promise<PredictResult> = predict(params);
export const isUsage = (e: unknown): boolean => e instanceof UsageError;
`,
  );
  writeFileSync(join(project, 'wrong.ts'), `import { predict } from 'virnucpro';\nexport const r = predict({ input: 'reads.fa', expectedLength: '500', models: {} });\n`);
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const tsArgs = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--typeRoots', join(repoRoot, 'node_modules', '@types')];
  run(process.execPath, [tsc, ...tsArgs, 'use.ts'], { cwd: project, env, what: 'tsc on a file that uses the library' });
  const wrong = spawnSync(process.execPath, [tsc, ...tsArgs, 'wrong.ts'], { cwd: project, env, encoding: 'utf8' });
  assert.notEqual(wrong.status, 0, 'a string expectedLength is a type error');
  assert.match(wrong.stdout, /wrong\.ts.*expectedLength|Type 'string' is not assignable to type 'number'/s);
});
