// Mutation testing (StrykerJS): `npm run mutation` for every module below, or
// `npm run mutation -- seq results` for some of them (scripts/mutation.mjs sets
// MUTATION_MODULES). Not part of `npm test`: a full run takes a while. Scores: docs/mutation.md.
//
// The tests are node:test files run with tsx; the tap runner runs each covering test file
// in its own `node` process per mutant (a file is one "test" for coverage analysis).

/** Module -> the source files mutated and the test files that exercise them in-process. */
export const MODULES = {
  seq: { mutate: ['src/seq/*.ts'], tests: ['test/seq/*.test.ts'] },
  results: { mutate: ['src/io/results.ts'], tests: ['test/io/results.test.ts'] },
  finalize: { mutate: ['src/pipeline/finalize.ts'], tests: ['test/pipeline/finalize-*.test.ts'] },
  workdir: { mutate: ['src/pipeline/workdir.ts'], tests: ['test/pipeline/workdir-*.test.ts'] },
  pickle: {
    mutate: ['src/formats/pytorch/pickle.ts', 'src/formats/pytorch/pickle-globals.ts', 'src/formats/pytorch/pickle-values.ts', 'src/formats/pytorch/byte-cursor.ts'],
    tests: ['test/formats/hostile.test.ts', 'test/formats/pickle-*.test.ts', 'test/formats/pytorch-oracle.test.ts'],
  },
  assignment: { mutate: ['src/scheduler/assignment.ts'], tests: ['test/scheduler/assignment.test.ts'] },
};

const requested = (process.env.MUTATION_MODULES ?? '').split(/[\s,]+/).filter(Boolean);
const unknown = requested.filter((m) => !(m in MODULES));
if (unknown.length > 0) throw new Error(`unknown mutation module(s) ${unknown.join(', ')}; known: ${Object.keys(MODULES).join(', ')}`);
const selected = requested.length > 0 ? requested : Object.keys(MODULES);
const name = requested.length > 0 ? selected.join('-') : 'all';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'tap',
  plugins: ['@stryker-mutator/tap-runner'],
  tap: {
    testFiles: [...new Set(selected.flatMap((m) => MODULES[m].tests))],
    nodeArgs: ['--import', 'tsx', '--test-reporter=tap', '-r', '{{hookFile}}', '{{testFile}}'],
  },
  mutate: selected.flatMap((m) => MODULES[m].mutate),
  coverageAnalysis: 'perTest',
  // The build machines have few cores, shared with other work.
  concurrency: Number(process.env.MUTATION_CONCURRENCY ?? 2),
  timeoutMS: 20000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  clearTextReporter: { allowColor: false, logTests: false },
  tempDirName: '.stryker-tmp',
  ignorePatterns: ['dist', 'bench/out', 'example_virnucpro', 'example_out', 'reports', '.device'],
  thresholds: { high: 90, low: 80, break: null },
};
