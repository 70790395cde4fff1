/**
 * Hostile and broken files, written byte by byte here: each must be refused
 * with an InputError naming the problem, and nothing in them may run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTorchFile } from '../../src/formats/pytorch/checkpoint.js';
import { unpickle, UnsafePickleError } from '../../src/formats/pytorch/pickle.js';
import { writeStoredZip } from '../../src/formats/pytorch/writer.js';
import { readSafetensors } from '../../src/formats/safetensors.js';
import { InputError } from '../../src/util/errors.js';
import { fixture, tempDir } from '../helpers.js';

const dir = tempDir();
const marker = join(dir, 'pwned');

/** Protocol-2 pickle: GLOBAL module.name, then call it with one string argument (REDUCE). */
function callPickle(module: string, name: string, arg: string): Uint8Array {
  const a = Buffer.from(arg, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(a.length);
  return Buffer.concat([
    Buffer.from([0x80, 0x02]),
    Buffer.from(`c${module}\n${name}\n`, 'latin1'),
    Buffer.from([0x58]), len, a,
    Buffer.from([0x85, 0x52, 0x2e]), // TUPLE1 REDUCE STOP
  ]);
}

/** Protocol-4 form of the same: STACK_GLOBAL instead of GLOBAL. */
function stackGlobalPickle(module: string, name: string, arg: string): Uint8Array {
  const s = (t: string): Buffer => Buffer.concat([Buffer.from([0x8c, Buffer.byteLength(t)]), Buffer.from(t)]);
  return Buffer.concat([Buffer.from([0x80, 0x04]), s(module), s(name), Buffer.from([0x93]), s(arg), Buffer.from([0x85, 0x52, 0x2e])]);
}

function asCheckpoint(name: string, pkl: Uint8Array): string {
  const path = join(dir, `${name}.pt`);
  writeStoredZip(path, [[`${name}/data.pkl`, pkl], [`${name}/version`, Buffer.from('3\n')]]);
  return path;
}

const codeRunning: Array<[string, string, string]> = [
  ['os', 'system', `touch ${marker}`],
  ['posix', 'system', `touch ${marker}`],
  ['builtins', 'eval', `open(${JSON.stringify(marker)}, 'w')`],
  ['builtins', 'exec', `open(${JSON.stringify(marker)}, 'w')`],
  ['__builtin__', 'getattr', 'x'],
  ['builtins', '__import__', 'os'],
  ['subprocess', 'Popen', `touch ${marker}`],
  ['subprocess', 'check_output', `touch ${marker}`],
  ['torch.serialization', 'load', marker],
  ['runpy', 'run_path', marker],
];

for (const [module, name, arg] of codeRunning) {
  test(`refuses ${module}.${name} in a checkpoint, naming it, without side effects`, async () => {
    for (const [label, pkl] of [
      ['GLOBAL', callPickle(module, name, arg)],
      ['STACK_GLOBAL', stackGlobalPickle(module, name, arg)],
    ] as const) {
      const path = asCheckpoint(`evil_${module}_${name}_${label}`.replace(/\W/g, '_'), pkl);
      await assert.rejects(
        readTorchFile(path),
        (e: unknown) => e instanceof UnsafePickleError && e.message.includes(`${module}.${name}`) && e.message.includes(path),
        `${label} ${module}.${name}`,
      );
    }
    assert.equal(existsSync(marker), false);
  });
}

/** Protocol-2 pickle that only references module.name and returns it: nothing calls it. */
function referencePickle(module: string, name: string): Uint8Array {
  return Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.from(`c${module}\n${name}\n`, 'latin1'), Buffer.from([0x2e])]);
}

// The checks above all end in a call, which is refused anyway; these pickles never call their
// global, so only the load-time rules (deny-listed module, non-data builtin, dunder name) stop them.
for (const [module, name] of [['os', 'system'], ['builtins', 'getattr'], ['__builtin__', 'getattr'], ['collections', '__builtins__'], ['torch.hub', 'load']]) {
  test(`refuses a checkpoint that only references ${module}.${name}`, async () => {
    const path = asCheckpoint(`ref_${module}_${name}`.replace(/\W/g, '_'), referencePickle(module, name));
    await assert.rejects(
      readTorchFile(path),
      (e: unknown) => e instanceof UnsafePickleError && e.message.includes(`refusing pickle global '${module}.${name}'`) && e.message.includes(path),
    );
  });
}

test('REDUCE to a callable that is not allow-listed (a __reduce__ payload) is refused, naming it', () => {
  for (const [m, n] of [['__main__', 'Exploit'], ['numpy', 'load'], ['torch', 'load'], ['webbrowser2', 'open']]) {
    assert.throws(
      () => unpickle(callPickle(m, n, 'x'), { source: 'evil.pkl' }),
      (e: unknown) => e instanceof UnsafePickleError && e.message.includes(`${m}.${n}`),
      `${m}.${n}`,
    );
  }
});

test('unknown classes instantiated with NEWOBJ/BUILD stay inert objects', () => {
  // __main__.Thing.__new__(Thing) then BUILD {'x': 1}
  const pkl = Buffer.concat([
    Buffer.from([0x80, 0x02]), Buffer.from('c__main__\nThing\n', 'latin1'), Buffer.from([0x29, 0x81, 0x7d, 0x8c, 1]), Buffer.from('x'), Buffer.from([0x4b, 1, 0x73, 0x62, 0x2e]),
  ]);
  const r = unpickle(pkl, { source: 't.pkl' });
  assert.equal((r.value as { className: string }).className, '__main__.Thing');
  assert.deepEqual((r.value as { attrs: unknown }).attrs, { x: 1 });
});

test('malformed pickles are InputErrors, not crashes', () => {
  const cases: Array<[string, number[]]> = [
    ['empty', []],
    ['no STOP', [0x80, 0x02, 0x4e]],
    ['stack underflow', [0x80, 0x02, 0x52, 0x2e]],
    ['unknown opcode', [0x80, 0x02, 0xff, 0x2e]],
    ['bad memo', [0x80, 0x02, 0x68, 0x05, 0x2e]],
    ['huge length', [0x80, 0x02, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x2e]],
    ['EXT opcode', [0x80, 0x02, 0x82, 0x01, 0x2e]],
    ['persistent id without a loader', [0x80, 0x02, 0x4e, 0x51, 0x2e]],
  ];
  for (const [label, bytes] of cases) {
    assert.throws(() => unpickle(Uint8Array.from(bytes), { source: 'x.pkl' }), InputError, label);
  }
});

test('truncated checkpoints are refused with an InputError naming the file', async () => {
  const full = readFileSync(fixture('esm2/fair-esm/esm2_t2_32_tiny.pt'));
  for (const keep of [0, 10, 100, Math.floor(full.length / 2), full.length - 30, full.length - 1]) {
    const path = join(dir, `truncated_${keep}.pt`);
    writeFileSync(path, full.subarray(0, keep));
    await assert.rejects(readTorchFile(path), (e: unknown) => e instanceof InputError && e.message.includes(path), `kept ${keep} bytes`);
  }
});

test('a storage record shorter than the tensor needs, or a missing one, is refused', async () => {
  // Pickle of _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', 100), 0, (100,), (1,), False, OrderedDict())
  const s = (t: string): Buffer => Buffer.concat([Buffer.from([0x8c, t.length]), Buffer.from(t)]);
  const pkl = Buffer.concat([
    Buffer.from([0x80, 0x02]), Buffer.from('ctorch._utils\n_rebuild_tensor_v2\n', 'latin1'), Buffer.from([0x28, 0x28]), s('storage'),
    Buffer.from('ctorch\nFloatStorage\n', 'latin1'), s('0'), s('cpu'), Buffer.from([0x4b, 100, 0x74, 0x51, 0x4b, 0, 0x4b, 100, 0x85, 0x4b, 1, 0x85, 0x89, 0x4e, 0x74, 0x52, 0x2e]),
  ]);
  const short = join(dir, 'short.pt');
  writeStoredZip(short, [['short/data.pkl', pkl], ['short/data/0', new Uint8Array(40)]]);
  await assert.rejects(readTorchFile(short), /declares 100 float32 elements \(400 bytes\) but its record holds 40/);
  const missing = join(dir, 'missing.pt');
  writeStoredZip(missing, [['missing/data.pkl', pkl]]);
  await assert.rejects(readTorchFile(missing), /storage '0' has no record 'missing\/data\/0'/);
});

test('not-a-checkpoint files are named as such', async () => {
  const txt = join(dir, 'notes.pt');
  writeFileSync(txt, 'hello, this is not a zip file at all'.repeat(3));
  await assert.rejects(readTorchFile(txt), /not a zip file/);
  const legacy = join(dir, 'legacy.pt');
  writeFileSync(legacy, Buffer.concat([Buffer.from([0x80, 0x02, 0x8a, 0x0a]), Buffer.alloc(40)]));
  await assert.rejects(readTorchFile(legacy), /legacy/);
  const nopkl = join(dir, 'nopkl.pt');
  writeStoredZip(nopkl, [['a/b.txt', Buffer.from('x')]]);
  await assert.rejects(readTorchFile(nopkl), /no data\.pkl/);
});

function safetensorsBytes(header: unknown, dataLen: number): Buffer {
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, Buffer.alloc(dataLen)]);
}

test('hostile safetensors headers are refused', () => {
  const cases: Array<[string, Buffer, RegExp]> = [
    ['header past the end', (() => { const b = Buffer.alloc(16); b.writeBigUInt64LE(1000n); return b; })(), /does not fit/],
    ['huge header length', (() => { const b = Buffer.alloc(16); b.writeBigUInt64LE(2n ** 60n); return b; })(), /does not fit/],
    ['data past the end', safetensorsBytes({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8), /points past the end/],
    ['overlap', safetensorsBytes({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12), /overlap/],
    ['shape/dtype vs offsets', safetensorsBytes({ a: { dtype: 'F16', shape: [3], data_offsets: [0, 8] } }, 8), /data_offsets span 8 bytes/],
    ['unknown dtype', safetensorsBytes({ a: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, 8), /unsupported dtype/],
    ['negative dims', safetensorsBytes({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), /invalid shape/],
    ['reversed offsets', safetensorsBytes({ a: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, 8), /invalid data_offsets/],
    ['not JSON', Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{{{{')]), /not valid JSON/],
    ['array header', safetensorsBytes([1, 2], 0), /not a JSON object/],
    ['bad metadata', safetensorsBytes({ __metadata__: { a: 1 } }, 0), /__metadata__/],
    ['too short', Buffer.alloc(3), /only 3 bytes/],
  ];
  for (const [label, bytes, re] of cases) {
    const path = join(dir, `${label.replace(/\W/g, '_')}.safetensors`);
    writeFileSync(path, bytes);
    assert.throws(() => readSafetensors(path), (e: unknown) => e instanceof InputError && re.test(e.message) && e.message.includes(path), label);
  }
});
