import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { pidAlive } from '../helpers.js';

const script = new URL('./fixtures/interruptible-run.ts', import.meta.url).pathname;


for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  test(`${signal} stops the workers and exits with ${code}, leaving no orphan`, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const pids = new Set<number>();
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const twoWorkers = new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        for (const m of d.toString().matchAll(/pid (\d+)/g)) pids.add(Number(m[1]));
        if (pids.size >= 2) resolve();
      });
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    await twoWorkers;
    child.kill(signal);
    const exitCode = await exited;
    assert.equal(exitCode, code, stderr);
    assert.match(stderr, new RegExp(`${signal}: stopping 2 workers`));
    // A worker may still be exiting when the parent is gone: wait for it (bounded) instead of a fixed pause.
    for (let i = 0; i < 50 && [...pids].some(pidAlive); i++) await sleep(100);
    for (const pid of pids) assert.equal(pidAlive(pid), false, `worker ${pid} outlived the parent`);
  });
}

test('workers exit on their own when the parent is SIGKILLed (IPC disconnect)', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'ignore'] });
  const pids = new Set<number>();
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      for (const m of d.toString().matchAll(/pid (\d+)/g)) pids.add(Number(m[1]));
      if (pids.size >= 2) resolve();
    });
  });
  child.kill('SIGKILL');
  for (let i = 0; i < 50 && [...pids].some(pidAlive); i++) await sleep(100);
  for (const pid of pids) assert.equal(pidAlive(pid), false, `worker ${pid} outlived a killed parent`);
});
