import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { addSchedulerOptions, schedulerValuesFrom, type SchedulerFlags } from '../../src/cli/scheduler-flags.js';
import { schedulerSettingsFrom } from '../../src/scheduler/settings.js';

async function settings(args: string[]) {
  const cmd = addSchedulerOptions(new Command('predict').exitOverride());
  cmd.parse(args, { from: 'user' });
  return schedulerSettingsFrom(schedulerValuesFrom(cmd.opts<SchedulerFlags>()), { detect: async () => [] });
}

test('defaults: static assignment, no stealing, steal interval 3 s, dashboard automatic', async () => {
  const s = await settings([]);
  assert.deepEqual(s.devices.map((d) => d.id), ['cpu:0']);
  assert.deepEqual(s.coordinator, { workStealing: false, gpuWeighted: false, weights: undefined, calibrate: true, stealIntervalS: 3 });
  assert.equal(s.dashboard, undefined);
});

test('every scheduling flag reaches the coordinator options', async () => {
  const s = await settings(['--devices', 'cpu:2', '--work-stealing', '--gpu-weighted', '--no-calibrate', '--steal-interval', '0.5', '--show-gpu-dashboard']);
  assert.deepEqual(s.devices.map((d) => d.id), ['cpu:0', 'cpu:1']);
  assert.deepEqual(s.coordinator, { workStealing: true, gpuWeighted: true, weights: undefined, calibrate: false, stealIntervalS: 0.5 });
  assert.equal(s.dashboard, true);
  assert.equal((await settings(['--no-gpu-dashboard'])).dashboard, false);
});

test('--gpu-weights implies weighting and must match the device count', async () => {
  const s = await settings(['--devices', 'cpu:2', '--gpu-weights', '1,3']);
  assert.equal(s.coordinator.gpuWeighted, true);
  assert.deepEqual(s.coordinator.weights, [1, 3]);
  await assert.rejects(settings(['--devices', 'cpu:2', '--gpu-weights', '1']), /1 weights for 2 devices/);
  await assert.rejects(settings(['--steal-interval', '0']), /--steal-interval/);
  await assert.rejects(settings(['--show-gpu-dashboard', '--no-gpu-dashboard']), /contradict/);
});
