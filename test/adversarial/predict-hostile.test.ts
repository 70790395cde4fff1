/**
 * The adversarial suite: hostile inputs, model files and work folders built on the fly, each run through the
 * real CLI as a user would. Every case checks the exit code, the message, that no file of the user's was
 * lost or changed, and (for damage a resume must repair) that the outputs are byte-identical to a clean run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { fixture, tempDir } from '../helpers.js';
import { assertNoInternalError, runCli, treeSnapshot } from '../cli-harness.js';

const base = tempDir('virnucpro-adversarial-');
const cache = join(base, 'cache');
const RUN = ['-e', '500', '-q', '--cache-dir', cache];
const INPUT = fixture('e2e/input.fa');

/** The user's area: a copy of the demo models and the input, which no run may change. */
let area: { root: string; esm: string; dnabert: string; classifier: string; input: string } | null = null;
async function userArea() {
  if (area) return area;
  const root = join(base, 'user');
  mkdirSync(root);
  const r = await runCli(['models', 'demo', '--out', join(root, 'models')]);
  assert.equal(r.code, 0, r.stderr);
  const input = join(root, 'reads.fa');
  cpSync(INPUT, input);
  area = { root, input, esm: join(root, 'models', 'esm2_t2_32_demo.pt'), dnabert: join(root, 'models', 'dnabert-s'), classifier: join(root, 'models', 'classifier_demo.pth') };
  return area;
}

/** A private copy of the demo models, to damage. */
async function modelCopy(): Promise<{ esm: string; dnabert: string; classifier: string }> {
  const a = await userArea();
  const dir = mkdtempSync(join(base, 'models-'));
  cpSync(join(a.root, 'models'), dir, { recursive: true });
  return { esm: join(dir, 'esm2_t2_32_demo.pt'), dnabert: join(dir, 'dnabert-s'), classifier: join(dir, 'classifier_demo.pth') };
}

function flipByteAt(path: string, at: number): void {
  const bytes = readFileSync(path);
  bytes[at] ^= 0x5a;
  writeFileSync(path, bytes); // same size
}

/** The outputs of a clean run, by name (work/ and run.json hold timings and paths, so they are left out). */
function outputs(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir)) {
    // run.json and report.html carry the run's times, gpu_metrics.log its samples: never byte-identical.
    if (name === 'work' || name === 'run.json' || name === 'report.html' || name === 'gpu_metrics.log' || name.startsWith('.')) continue;
    if (statSync(join(dir, name)).isFile()) out[name] = readFileSync(join(dir, name), 'utf8');
  }
  return out;
}

let reference: Record<string, string> | null = null;
async function referenceRun(): Promise<{ dir: string; outputs: Record<string, string> }> {
  const a = await userArea();
  const dir = join(base, 'reference');
  if (!reference) {
    const r = await runCli(['predict', a.input, ...RUN, '--esm', a.esm, '--dnabert', a.dnabert, '--classifier', a.classifier, '-o', dir, '--shard-tokens', '2000']);
    assert.equal(r.code, 0, r.stderr);
    reference = outputs(dir);
    assert.ok(Object.keys(reference).length >= 3);
  }
  return { dir, outputs: reference };
}

interface RefusedCase {
  name: string;
  /** Builds the hostile thing; returns the predict arguments after the input. */
  setup: () => Promise<{ input?: string; args: string[] }>;
  code: number;
  message: RegExp;
  /** Text that must never appear in the message (file contents). */
  never?: RegExp;
}

const refused: RefusedCase[] = [
  {
    name: 'a .pt with one byte changed inside a tensor (same size): ZIP CRC',
    setup: async () => {
      const m = await modelCopy();
      flipByteAt(m.esm, Math.floor(statSync(m.esm).size / 2));
      return { args: ['--esm', m.esm, '--dnabert', m.dnabert, '--classifier', m.classifier] };
    },
    code: 2,
    message: /esm2_t2_32_demo\.pt.*(CRC|damaged)/,
  },
  {
    name: 'a tokenizer.json linked to a system file',
    setup: async () => {
      const m = await modelCopy();
      rmSync(join(m.dnabert, 'tokenizer.json'));
      symlinkSync('/etc/passwd', join(m.dnabert, 'tokenizer.json'));
      return { args: ['--esm', m.esm, '--dnabert', m.dnabert, '--classifier', m.classifier] };
    },
    code: 2,
    message: /tokenizer\.json.*(link|outside)/,
    never: /root:/,
  },
  {
    name: 'a truncated tokenizer.json, named by the user\'s path',
    setup: async () => {
      const m = await modelCopy();
      const t = join(m.dnabert, 'tokenizer.json');
      writeFileSync(t, readFileSync(t).subarray(0, 100));
      return { args: ['--esm', m.esm, '--dnabert', m.dnabert, '--classifier', m.classifier] };
    },
    code: 2,
    message: /models-\w+\/dnabert-s\/tokenizer\.json.*(JSON|json)/,
    never: /"version"|"model"/,
  },
  {
    name: 'a bundle whose weights file was changed in place (same size)',
    setup: async () => {
      const a = await userArea();
      const bundle = join(mkdtempSync(join(base, 'bundle-')), 'b');
      const r = await runCli(['models', 'prepare', '--esm', a.esm, '--dnabert', a.dnabert, '--classifier', a.classifier, '--out', bundle]);
      assert.equal(r.code, 0, r.stderr);
      const data = join(bundle, 'classifier.onnx.data');
      flipByteAt(data, Math.floor(statSync(data).size / 2));
      return { args: ['--models', bundle] };
    },
    code: 2,
    message: /classifier\.onnx\.data does not match its checksum/,
  },
  {
    name: 'a truncated gzip input',
    setup: async () => {
      const gz = gzipSync(readFileSync(INPUT));
      const input = join(mkdtempSync(join(base, 'in-')), 'reads.fa.gz');
      writeFileSync(input, gz.subarray(0, Math.floor(gz.length / 2)));
      return { input, args: [] };
    },
    code: 2,
    message: /reads\.fa\.gz/,
  },
  {
    name: 'binary garbage as input',
    setup: async () => {
      const input = join(mkdtempSync(join(base, 'in-')), 'reads.fa');
      writeFileSync(input, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) % 256)));
      return { input, args: [] };
    },
    code: 2,
    message: /reads\.fa/,
  },
  {
    name: 'a FIFO as input (must not hang)',
    setup: async () => {
      const input = join(mkdtempSync(join(base, 'in-')), 'reads.fifo');
      execFileSync('mkfifo', [input]);
      return { input, args: [] };
    },
    code: 2,
    message: /reads\.fifo.*not a regular file/,
  },
  {
    name: 'a directory as input',
    setup: async () => ({ input: mkdtempSync(join(base, 'in-')), args: [] }),
    code: 2,
    message: /is a directory/,
  },
  { name: '-t 100000', setup: async () => ({ args: ['-t', '100000'] }), code: 2, message: /--threads|-t/ },
  { name: '--devices cpu:1000', setup: async () => ({ args: ['--devices', 'cpu:1000'] }), code: 2, message: /cpu:1000|CPU workers/ },
  { name: '--steal-interval 1e9', setup: async () => ({ args: ['--steal-interval', '1e9'] }), code: 2, message: /--steal-interval/ },
];

for (const c of refused) {
  test(`refused: ${c.name}`, async () => {
    const a = await userArea();
    const { input, args } = await c.setup();
    const modelArgs = args.some((x) => x === '--esm' || x === '--models') ? [] : ['--esm', a.esm, '--dnabert', a.dnabert, '--classifier', a.classifier];
    const before = treeSnapshot(a.root);
    const out = join(mkdtempSync(join(base, 'out-')), 'o');
    const r = await runCli(['predict', input ?? a.input, ...RUN, ...modelArgs, ...args, '-o', out], { timeoutMs: 120_000 });
    assert.equal(r.signal, null, `killed after the time limit (a hang): ${r.stderr}`);
    assert.equal(r.code, c.code, r.stderr);
    assert.match(r.stderr, c.message);
    if (c.never) assert.doesNotMatch(r.stderr, c.never);
    assertNoInternalError(r);
    assert.deepEqual(treeSnapshot(a.root), before, "the user's files are unchanged");
    // No output that could be taken for a result.
    for (const name of ['prediction_results.txt', 'summary.tsv', 'prediction_results_highestscore.csv']) {
      assert.throws(() => statSync(join(out, name)), `${name} must not exist after a refused run`);
    }
  });
}

interface RepairedCase {
  name: string;
  damage: (dir: string) => void;
}

const shardInputs = (dir: string) => readdirSync(join(dir, 'work')).filter((n) => /^shard-\d+\.tsv$/.test(n)).sort();
const shardResults = (dir: string) => readdirSync(join(dir, 'work')).filter((n) => /^shard-\d+\.result$/.test(n)).sort();

const repaired: RepairedCase[] = [
  {
    name: 'one line deleted from work/records.tsv',
    damage: (dir) => {
      const p = join(dir, 'work', 'records.tsv');
      const lines = readFileSync(p, 'utf8').split('\n');
      lines.splice(3, 1);
      writeFileSync(p, lines.join('\n'));
    },
  },
  {
    name: 'a shard input changed in place (same size)',
    damage: (dir) => {
      const p = join(dir, 'work', shardInputs(dir)[1]);
      const text = readFileSync(p, 'utf8');
      const i = text.lastIndexOf('A');
      writeFileSync(p, text.slice(0, i) + 'C' + text.slice(i + 1));
    },
  },
  {
    name: 'a shard result truncated',
    damage: (dir) => {
      const p = join(dir, 'work', shardResults(dir)[0]);
      writeFileSync(p, readFileSync(p).subarray(0, 40));
    },
  },
  {
    name: 'plan.json replaced by garbage',
    damage: (dir) => writeFileSync(join(dir, 'work', 'plan.json'), '{"fingerprint": nul'),
  },
];

for (const c of repaired) {
  test(`repaired on --resume, outputs byte-identical: ${c.name}`, async () => {
    const a = await userArea();
    const ref = await referenceRun();
    assert.ok(shardInputs(ref.dir).length >= 2, 'the reference run has several shards');
    const dir = join(mkdtempSync(join(base, 'resume-')), 'o');
    cpSync(ref.dir, dir, { recursive: true });
    c.damage(dir);
    const before = treeSnapshot(a.root);
    const r = await runCli(['predict', a.input, ...RUN, '--esm', a.esm, '--dnabert', a.dnabert, '--classifier', a.classifier, '-o', dir, '--shard-tokens', '2000', '--resume'], { timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
    assertNoInternalError(r);
    assert.deepEqual(outputs(dir), ref.outputs);
    assert.deepEqual(treeSnapshot(a.root), before);
  });
}
