import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startMonitoring } from '../../src/monitor/session.js';
import { METRICS_HEADER, METRICS_LOG_NAME } from '../../src/monitor/metrics-log.js';
import { Coordinator } from '../../src/scheduler/coordinator.js';
import { resolveDevices } from '../../src/scheduler/devices.js';
import { tempDir } from '../helpers.js';

const handlerModule = new URL('../scheduler/fixtures/work-handler.ts', import.meta.url).pathname;

function idleCoordinator(lines: string[]): { coordinator: Coordinator; devices: ReturnType<typeof resolveDevices> } {
  const devices = resolveDevices({ devices: 'cpu' }, []);
  const coordinator = new Coordinator({ devices, handler: { module: handlerModule, init: {} }, log: (l) => lines.push(l) });
  return { coordinator, devices };
}

test('gpu_metrics.log gets a row per device when monitoring stops', () => {
  const lines: string[] = [];
  const { coordinator, devices } = idleCoordinator(lines);
  const outDir = tempDir('metrics-log');
  const monitoring = startMonitoring(coordinator, { devices, outDir, dashboard: false, intervalMs: 60_000 });
  monitoring.stop();
  const rows = readFileSync(join(outDir, METRICS_LOG_NAME), 'utf8').trim().split('\n');
  assert.equal(rows[0], METRICS_HEADER);
  assert.equal(rows.length, 2);
  assert.match(rows[1], /,cpu:0,|,cpu,/);
});

test('a metrics log that cannot be written stops with one warning instead of throwing out of the run', () => {
  const lines: string[] = [];
  const { coordinator, devices } = idleCoordinator(lines);
  const outDir = tempDir('metrics-log-gone');
  const monitoring = startMonitoring(coordinator, { devices, outDir, dashboard: false, intervalMs: 60_000 });
  rmSync(outDir, { recursive: true, force: true }); // the next append fails with ENOENT, as a full disk fails with ENOSPC
  assert.doesNotThrow(() => monitoring.stop());
  const warnings = lines.filter((l) => l.includes(METRICS_LOG_NAME));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /^warning: .*gpu_metrics\.log: cannot write \(ENOENT\); the metrics log stops here$/);
});
