/**
 * Error messages about model files never quote the files: a config.json or a cache record may be a link to
 * any file on the machine, and V8's JSON errors quote the start of the text they refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { detectModel } from '../../src/models/detect.js';
import { readModelRecord, RECORD_NAME } from '../../src/hub/cache.js';
import { InputError } from '../../src/util/errors.js';
import { tempDir } from '../helpers.js';

const SECRET = 'root:x:0:0:secret-token-1234:/root:/bin/bash';

function refusedWithoutText(e: unknown, path: string): boolean {
  assert.ok(e instanceof InputError, String(e));
  assert.ok(e.message.includes(path), e.message);
  assert.ok(!e.message.includes('root:x') && !e.message.includes('secret-token'), `message quotes the file: ${e.message}`);
  assert.match(e.message, /invalid JSON/);
  return true;
}

test('a config.json that is not JSON is refused without quoting it', async () => {
  const dir = tempDir('error-text-config');
  writeFileSync(join(dir, 'config.json'), SECRET);
  await assert.rejects(() => detectModel(dir), (e) => refusedWithoutText(e, join(dir, 'config.json')));
});

test('a cache record that is not JSON is refused without quoting it', async () => {
  const dir = tempDir('error-text-record');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, RECORD_NAME), SECRET);
  await assert.rejects(() => readModelRecord(dir), (e) => refusedWithoutText(e, join(dir, RECORD_NAME)));
});
