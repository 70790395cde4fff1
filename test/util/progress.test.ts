import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createProgress, formatBytes, formatDuration } from '../../src/util/progress.js';

function captureStream(): { stream: NodeJS.WriteStream; text: () => string } {
  const s = new PassThrough();
  let out = '';
  s.on('data', (d: Buffer) => (out += d.toString()));
  return { stream: Object.assign(s, { isTTY: false }) as unknown as NodeJS.WriteStream, text: () => out };
}

test('off a terminal, progress is plain lines no more often than the interval, with total, rate and ETA', async () => {
  const { stream, text } = captureStream();
  const p = createProgress({ label: 'plan', total: 1_000_000, unit: 'bytes', stream, plainIntervalS: 0.5 });
  p.update(100_000, 'first'); // too early: the interval has not passed since start
  await sleep(600);
  p.update(250_000, '10 records');
  p.update(300_000, 'suppressed');
  p.stop();
  const lines = text().trim().split('\n');
  assert.equal(lines.length, 1, text());
  assert.match(lines[0], /^plan: 250\.0 kB \/ 1\.0 MB \(25%\), [\d.]+ [kM]?B\/s, ETA \S+, 10 records$/);
  assert.doesNotMatch(text(), /\x1b/, 'no terminal escapes in plain mode');
});

test('quiet progress writes nothing', async () => {
  const { stream, text } = captureStream();
  const p = createProgress({ label: 'x', stream, quiet: true, plainIntervalS: 0 });
  await sleep(5);
  p.update(5);
  p.stop();
  assert.equal(text(), '');
});

test('byte and duration formatting', () => {
  assert.equal(formatBytes(999), '999 B');
  assert.equal(formatBytes(1500), '1.5 kB');
  assert.equal(formatBytes(2_500_000_000), '2.5 GB');
  assert.equal(formatDuration(Infinity), '?');
  assert.equal(formatDuration(3725), '1h02m');
});
