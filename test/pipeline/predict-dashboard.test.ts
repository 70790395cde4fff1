import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fixture, repoRoot, tempDir, tsxImport } from '../helpers.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;

test('predict on two workers draws the device dashboard in a real terminal', { skip: !hasTmux && 'tmux is not installed' }, async () => {
  const dir = tempDir('virnucpro-predict-dash-');
  const out = join(dir, 'out');
  const socket = `virnucpro-predict-${process.pid}`;
  const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  const args = [
    'predict',
    fixture('e2e/input.fa'),
    '-e 500',
    `--esm ${fixture('esm2/fair-esm/esm2_t2_32_tiny.pt')}`,
    `--dnabert ${fixture('dnabert-s/model')}`,
    `--classifier ${fixture('mlp/mlp_full_module.pth')}`,
    `--cache-dir ${join(dir, 'cache')}`,
    '--shard-tokens 300',
    '--devices cpu:2',
    '--work-stealing',
    `-o ${out}`,
  ].join(' ');
  const command = `${process.execPath} --import ${tsxImport} ${join(repoRoot, 'src/cli/main.ts')} ${args}; echo EXIT=$?; sleep 60`;
  tmux('new-session', '-d', '-s', 'predict', '-x', '150', '-y', '45', command);
  try {
    let screen = '';
    for (let i = 0; i < 600 && !/EXIT=\d+/.test(screen); i++) {
      await sleep(100);
      screen = tmux('capture-pane', '-p', '-t', 'predict');
    }
    assert.match(screen, /EXIT=0/, screen);
    // Two workers on a terminal: the dashboard is on by default; its last frame stays on screen.
    assert.match(screen, /device\s+name\s+state/, screen);
    for (const device of ['cpu:0', 'cpu:1']) assert.match(screen, new RegExp(`^${device}\\s+CPU`, 'm'), screen);
    assert.match(screen, /frames scored/);
  } finally {
    tmux('kill-server');
  }
  const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
  assert.equal(run.complete, true);
  assert.equal(run.devices.length, 2);
  const csv = readFileSync(join(out, 'gpu_metrics.log'), 'utf8').trim().split('\n');
  assert.match(csv[0], /^timestamp,device,/);
});
