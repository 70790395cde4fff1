/**
 * Caps on what flags may ask of the machine (issue 15): every bound is
 * checked while the flags are parsed, with a usage error (exit code 2).
 * `cores` is passed explicitly so the expectations hold on any machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { addSchedulerOptions, schedulerValuesFrom, type SchedulerFlags } from '../../src/cli/scheduler-flags.js';
import { schedulerSettingsFrom } from '../../src/scheduler/settings.js';
import { Coordinator } from '../../src/scheduler/coordinator.js';
import { resolveDevices } from '../../src/scheduler/devices.js';
import { batchTokensFlag, MAX_BATCH_TOKENS, MAX_SHARD_TOKENS, parseStealInterval, shardTokensFlag, threadsFlag } from '../../src/scheduler/limits.js';
import { ExitCode, UsageError } from '../../src/util/errors.js';

function usageError(pattern: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof UsageError, String(e));
    assert.equal(e.exitCode, ExitCode.badInput);
    assert.match(e.message, pattern);
    return true;
  };
}

async function settings(args: string[], cores: number) {
  const cmd = addSchedulerOptions(new Command('predict').exitOverride());
  cmd.parse(args, { from: 'user' });
  return schedulerSettingsFrom(schedulerValuesFrom(cmd.opts<SchedulerFlags>()), { detect: async () => [], cores });
}

test('threads per worker: at most 4 per core', () => {
  const parse = threadsFlag('--threads', 2);
  assert.equal(parse('1'), 1);
  assert.equal(parse('8'), 8);
  assert.throws(() => parse('9'), usageError(/--threads must be an integer from 1 to 8, got '9'/));
  assert.throws(() => parse('100000'), (e: unknown) => e instanceof UsageError && /2 cores/.test(e.hint ?? ''));
  assert.throws(() => parse('0'), usageError(/from 1 to 8/));
  assert.throws(() => parse('2.5'), usageError(/from 1 to 8/));
});

test('CPU workers: at most one per core, counted over the whole --devices list', async () => {
  assert.deepEqual((await settings(['--devices', 'cpu:2'], 2)).devices.map((d) => d.id), ['cpu:0', 'cpu:1']);
  await assert.rejects(settings(['--devices', 'cpu:1000'], 2), usageError(/1000 CPU workers, more than the 2 cores/));
  await assert.rejects(settings(['--devices', 'cpu,cpu:2'], 2), usageError(/3 CPU workers/));
  // Refused before any worker is described: a huge count must not allocate first.
  await assert.rejects(settings(['--devices', 'cpu:99999999999'], 2), usageError(/CPU workers/));
  // The library call without limits keeps simulating many devices with CPU workers (tests, benchmarks).
  assert.equal(resolveDevices({ devices: 'cpu:3' }, []).length, 3);
});

test('--steal-interval: from 0.05 s to an hour, never a timer overflow', async () => {
  assert.equal((await settings(['--steal-interval', '0.05'], 2)).coordinator.stealIntervalS, 0.05);
  assert.equal((await settings(['--steal-interval', '3600'], 2)).coordinator.stealIntervalS, 3600);
  for (const bad of ['1e9', '3601', '0.01', '0', '-1', 'abc', '']) {
    await assert.rejects(settings(['--steal-interval', bad], 2), usageError(/--steal-interval must be a number of seconds from 0.05 to 3600/), bad);
  }
  assert.throws(() => parseStealInterval('Infinity'), UsageError);
  // Library callers are held to the same bounds.
  assert.throws(
    () => new Coordinator({ devices: resolveDevices({ devices: 'cpu' }, []), handler: { module: 'x', init: {} }, stealIntervalS: 1e9 }),
    /stealIntervalS must be from 0.05 to 3600/,
  );
});

test('--batch-tokens and --shard-tokens have upper bounds', () => {
  assert.equal(batchTokensFlag()(String(MAX_BATCH_TOKENS)), MAX_BATCH_TOKENS);
  assert.throws(() => batchTokensFlag()(String(MAX_BATCH_TOKENS + 1)), usageError(/--batch-tokens must be an integer from 1 to 1000000/));
  assert.equal(shardTokensFlag()(String(MAX_SHARD_TOKENS)), MAX_SHARD_TOKENS);
  assert.throws(() => shardTokensFlag()('1000000000000'), usageError(/--shard-tokens must be an integer from 1 to 20000000/));
});
