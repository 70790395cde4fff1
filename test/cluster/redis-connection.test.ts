import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQueueUrl } from '../../src/cluster/redis-connection.js';
import { parseMaxBytes } from '../../src/cluster/unit-job.js';
import { ExitCode, VirnucproError } from '../../src/util/errors.js';

test('queue URLs: the password is replaced by *** in the shown form, user and TLS kept', () => {
  assert.equal(parseQueueUrl('redis://alice:s3cret@db.example:6380/2').shown, 'redis://alice:***@db.example:6380/2');
  assert.equal(parseQueueUrl('rediss://:s3cret@db.example:6380/0').shown, 'rediss://:***@db.example:6380/0');
  assert.equal(parseQueueUrl('redis://127.0.0.1:6379').shown, 'redis://127.0.0.1:6379');
  assert.equal(parseQueueUrl('redis://:s3cret@h:1/0').secret, 'redis://:s3cret@h:1/0');
});

test('queue URLs: other schemes, non-URLs and a database that is not a number are usage errors that never repeat the password', () => {
  for (const bad of ['http://u:s3cret@h:1/0', 'u:s3cret@h:1', 'redis://:s3cret@h:1/db']) {
    assert.throws(
      () => parseQueueUrl(bad),
      (e: unknown) => e instanceof VirnucproError && e.exitCode === ExitCode.badInput && !e.message.includes('s3cret'),
      bad,
    );
  }
});

test('--queue-max-bytes takes K/M/G suffixes within 1K..256M', () => {
  assert.equal(parseMaxBytes('1K'), 1024);
  assert.equal(parseMaxBytes('16M'), 16 * 1024 ** 2);
  assert.equal(parseMaxBytes('2048'), 2048);
  for (const bad of ['0', '12', '1G', 'lots']) assert.throws(() => parseMaxBytes(bad), VirnucproError, bad);
});
