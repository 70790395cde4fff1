import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Dashboard, formatDuration, renderTable } from '../../src/monitor/dashboard.js';
import { METRICS_HEADER } from '../../src/monitor/metrics-log.js';
import { DeviceTelemetry } from '../../src/monitor/telemetry.js';
import type { CoordinatorSnapshot } from '../../src/scheduler/coordinator.js';
import { repoRoot, tempDir } from '../helpers.js';

const script = new URL('./fixtures/dashboard-run.ts', import.meta.url).pathname;
const hasTmux = spawnSync('tmux', ['-V']).status === 0;

function snapshot(): CoordinatorSnapshot {
  return {
    elapsedS: 10,
    shardsTotal: 4,
    shardsDone: 2,
    shardsFailed: 0,
    costTotal: 100,
    costDone: 50,
    steals: 1,
    recentSteals: [{ t: 4.2, time: '2025-01-01T00:00:00.000Z', from: 'cuda:1', to: 'cuda:0', shard: 'shard-7' }],
    devices: [
      { device: 'cuda:0', name: 'NVIDIA H200', kind: 'cuda', state: 'busy', weight: 1, queueDepth: 1, inFlight: 'a', shardsDone: 2, sequencesDone: 20, tokensDone: 2000, stolenIn: 1, stolenOut: 0, busyS: 9 },
      { device: 'cuda:1', name: 'NVIDIA T4', kind: 'cuda', state: 'idle', weight: 1, queueDepth: 0, inFlight: null, shardsDone: 0, sequencesDone: 0, tokensDone: 0, stolenIn: 0, stolenOut: 1, busyS: 0 },
    ],
  };
}

test('the table has a row per device, a progress bar with ETA and the last steals', () => {
  const s = snapshot();
  const rows = s.devices.map((d) => ({ ...d, sequencesPerS: 2, tokensPerS: 200, queueDepth: d.queueDepth, utilizationPct: 87, temperatureC: 61, powerW: 412 }));
  const lines = renderTable(s, rows);
  assert.match(lines[0], /shards 2\/4/);
  assert.match(lines[1], /^\[#{15}-{15}\]  50\.0%  ETA 00:10$/);
  assert.match(lines.find((l) => l.startsWith('cuda:0'))!, /NVIDIA H200\s+busy\s+87%\s+-\s+61C\s+412W/);
  assert.ok(lines.some((l) => l.includes('t=4.2s shard shard-7: cuda:1 -> cuda:0')));
  assert.equal(formatDuration(3725), '1:02:05');
});

test('queue mode: rows named host:device are shown whole, with the gauges their hosts measured', () => {
  const s = snapshot();
  s.devices = s.devices.map((d, i) => ({ ...d, device: `gpu-node-${i}.cluster:${d.device}`, gauges: { utilizationPct: 93, temperatureC: 70, powerW: 500 } }));
  const lines = renderTable(s, new DeviceTelemetry({ snapshot: () => s }).sample().rows);
  assert.match(lines.find((l) => l.startsWith('gpu-node-0.cluster:cuda:0 '))!, /NVIDIA H200\s+busy\s+93%\s+-\s+70C\s+500W/);
  assert.ok(lines.some((l) => l.startsWith('gpu-node-1.cluster:cuda:1 ')), lines.join('\n'));
});

test('without a terminal the dashboard prints one summary line per refresh', async () => {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d) => (text += d));
  // Three refreshes, however long the machine takes to make them (the dashboard's own timer does
  // not keep the process alive, so an interval of ours does while we wait).
  const threeLines = new Promise<void>((resolve) => stream.on('data', () => text.split('\n').length > 3 && resolve()));
  const keepAlive = setInterval(() => undefined, 1000);
  const d = new Dashboard({ snapshot }, { stream, tty: false, intervalMs: 50 }).start();
  await threeLines;
  clearInterval(keepAlive);
  d.stop();
  const lines = text.trim().split('\n');
  assert.ok(lines.length >= 3, text);
  for (const l of lines) {
    assert.match(l, /^\[00:10\] shards 2\/4 \(50\.0%\) ETA 00:10 steals 1 \| cuda:0 busy q=2 done=2 .* \| cuda:1 idle q=0 done=0/);
    assert.doesNotMatch(l, /\x1b/);
  }
});

test('the dashboard renders in a real terminal (tmux) and gpu_metrics.log is written', { skip: !hasTmux && 'tmux is not installed' }, async () => {
  const out = tempDir('virnucpro-dash-');
  const socket = `virnucpro-test-${process.pid}`;
  const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  const command = `cd ${repoRoot} && ${process.execPath} --import tsx ${script} ${out}; sleep 60`;
  tmux('new-session', '-d', '-s', 'dash', '-x', '130', '-y', '40', command);
  try {
    let screen = '';
    for (let i = 0; i < 300 && !screen.includes('RUN DONE'); i++) {
      await sleep(100);
      screen = tmux('capture-pane', '-p', '-t', 'dash');
    }
    assert.match(screen, /RUN DONE complete=true/, screen);
    for (const device of ['cpu:0', 'cpu:1', 'cpu:2']) {
      assert.match(screen, new RegExp(`^${device}\\s+CPU .*(idle|stopped)`, 'm'), screen);
    }
    assert.match(screen, /device\s+name\s+state\s+util\s+mem\s+temp\s+power\s+seq\/s\s+tok\/s\s+queue\s+done\s+in\/out/);
    assert.match(screen, /\[#{30}\] 100\.0%/);
    assert.match(screen, /shards 30\/30/);
    assert.match(screen, /last steals:/);
    // One table on screen: the redraw replaced earlier frames instead of scrolling them.
    assert.equal(screen.match(/last steals:/g)?.length, 1, screen);
    // Log lines went above the table.
    assert.match(screen.split('VirNucPro devices')[0], /scheduling 30 shards on 3 devices/);
  } finally {
    tmux('kill-server');
  }
  const csv = readFileSync(join(out, 'gpu_metrics.log'), 'utf8').trim().split('\n');
  assert.equal(csv[0], METRICS_HEADER);
  assert.ok(csv.length > 3);
  const devicesSeen = new Set(csv.slice(1).map((l) => l.split(',')[1]));
  assert.deepEqual([...devicesSeen].sort(), ['cpu:0', 'cpu:1', 'cpu:2']);
  for (const l of csv.slice(1)) assert.equal(l.split(',').length, METRICS_HEADER.split(',').length);
});
