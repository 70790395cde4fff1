/**
 * `predict --device webgpu` on the end-to-end fixture gives the CPU run's labels (and scores
 * within 1e-4), on ONNX Runtime's WebGPU provider (in CI: Mesa's lavapipe).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, fixtureModelFlags, repoRoot, tempDir, tsxImport } from '../helpers.js';
import { webgpuSkip } from './adapter.js';

const skip = await webgpuSkip();
const dir = tempDir('virnucpro-webgpu-predict-');
const MODELS = fixtureModelFlags(join(dir, 'cache'));

/** Runs predict on the e2e fixture with `device`; returns the output directory. */
function predict(device: string): Promise<string> {
  const out = join(dir, device);
  const args = ['--import', tsxImport, join(repoRoot, 'src/cli/main.ts'), 'predict', fixture('e2e/input.fa'), '-e', '500', ...MODELS, '--device', device, '-o', out, '-q'];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`predict --device ${device} exited with ${code}: ${stderr}`))));
  });
}

function rows(out: string): Array<{ id: string; label: string; scores: number[] }> {
  return readFileSync(join(out, 'prediction_results.txt'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => {
      const [id, label, ...scores] = l.split('\t');
      return { id, label, scores: scores.map(Number) };
    });
}

test('predict --device webgpu gives the CPU run’s labels and verdicts on the e2e fixture', { skip }, async () => {
  const [cpu, gpu] = [await predict('cpu'), await predict('webgpu')];
  const run = JSON.parse(readFileSync(join(gpu, 'run.json'), 'utf8'));
  assert.deepEqual(run.parameters.devices, ['webgpu:0']);
  assert.deepEqual(
    run.devices.map((d: { device: string }) => d.device),
    ['webgpu:0'],
    'the work ran on WebGPU, not on a CPU fallback',
  );
  const want = rows(cpu);
  const got = rows(gpu);
  assert.ok(want.length >= 20, 'the fixture gives frames to classify');
  assert.deepEqual(
    got.map((r) => [r.id, r.label]),
    want.map((r) => [r.id, r.label]),
  );
  got.forEach((r, i) => r.scores.forEach((s, k) => assert.ok(Math.abs(s - want[i].scores[k]) <= 1e-4, `${r.id} score ${k + 1}: ${s} vs ${want[i].scores[k]}`)));
  const csv = 'prediction_results_highestscore.csv';
  assert.equal(readFileSync(join(gpu, csv), 'utf8'), readFileSync(join(cpu, csv), 'utf8'), 'per-chunk verdicts');
  // summary.tsv: same records, counts and verdicts; max_virus_score (column 5) within 1e-4.
  const summary = (out: string) => readFileSync(join(out, 'summary.tsv'), 'utf8').trim().split('\n').map((l) => l.split('\t'));
  const [sc, sg] = [summary(cpu), summary(gpu)];
  assert.deepEqual(
    sg.map((r) => r.filter((_, k) => k !== 4)),
    sc.map((r) => r.filter((_, k) => k !== 4)),
  );
  sg.slice(1).forEach((r, i) => assert.ok(r[4] === sc[i + 1][4] || Math.abs(Number(r[4]) - Number(sc[i + 1][4])) <= 1e-4, r[0]));
});
