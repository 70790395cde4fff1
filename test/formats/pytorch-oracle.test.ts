/**
 * Every torch file in the fixtures, read with our reader, against the
 * summaries torch itself computed (torch_files_summary.json, torch-real/summary.json).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readTorchFile, listTorchRecords, TorchTensor } from '../../src/formats/pytorch/checkpoint.js';
import { PyDict, PyObject } from '../../src/formats/pytorch/pickle.js';
import { moduleStateDict } from '../../src/formats/pytorch/module.js';
import { toFloat32 } from '../../src/formats/tensor.js';
import { fixture } from '../helpers.js';

interface Node {
  type: string;
  [k: string]: unknown;
}

function closeSum(actual: number, expected: number, where: string): void {
  const tol = 1e-9 * Math.max(1, Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tol, `${where}: sum ${actual} != ${expected}`);
}

async function checkNode(actual: unknown, exp: Node, where: string): Promise<void> {
  switch (exp.type) {
    case 'dict':
    case 'OrderedDict': {
      assert.ok(actual instanceof PyDict, `${where}: expected a ${exp.type}`);
      assert.equal(actual.className, exp.type === 'dict' ? 'dict' : 'collections.OrderedDict', where);
      assert.deepEqual([...actual.keys()], exp.keys, `${where}: keys`);
      const items = exp.items as Record<string, Node>;
      for (const k of exp.keys as string[]) await checkNode(actual.get(k), items[k], `${where}.${k}`);
      return;
    }
    case 'list': {
      assert.ok(Array.isArray(actual), `${where}: expected a list`);
      assert.equal(actual.length, exp.length, `${where}: length`);
      if (exp.values) assert.deepEqual(actual, exp.values, where);
      if (exp.first5) assert.deepEqual(actual.slice(0, 5), exp.first5, `${where}: first5`);
      if (exp.sum_float64 !== undefined) closeSum((actual as number[]).reduce((a, b) => a + b, 0), exp.sum_float64 as number, where);
      if (exp.items) for (let i = 0; i < actual.length; i++) await checkNode(actual[i], (exp.items as Node[])[i], `${where}[${i}]`);
      return;
    }
    case 'str':
    case 'int':
    case 'bool':
    case 'float':
      assert.equal(actual, exp.value, where);
      return;
    case 'argparse.Namespace': {
      assert.ok(actual instanceof PyObject && actual.className === 'argparse.Namespace', `${where}: expected a Namespace`);
      for (const [k, v] of Object.entries(exp.attributes as Record<string, Node>)) await checkNode(actual.attrs[k], v, `${where}.${k}`);
      return;
    }
    case 'Tensor': {
      assert.ok(actual instanceof TorchTensor, `${where}: expected a tensor`);
      assert.equal(actual.dtype, exp.dtype, `${where}: dtype`);
      assert.deepEqual(actual.shape, exp.shape, `${where}: shape`);
      assert.deepEqual(actual.stride, exp.stride, `${where}: stride`);
      assert.equal(actual.storageOffset, exp.storage_offset, `${where}: storage_offset`);
      const raw = await actual.bytes();
      if (actual.dtype === 'int64') {
        const v = new BigInt64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
        assert.deepEqual(Array.from(v.slice(0, 5), Number), exp.first5, `${where}: first5`);
        assert.equal(Number(v.reduce((a, b) => a + b, 0n)), exp.sum, `${where}: sum`);
        return;
      }
      const f = toFloat32(actual.dtype, raw);
      assert.deepEqual(Array.from(f.slice(0, 5)), exp.first5, `${where}: first5`);
      let s = 0;
      for (const x of f) s += x;
      closeSum(s, exp.sum_float64 as number, where);
      return;
    }
    default: {
      const m = /^nn\.Module (.+)$/.exec(exp.type);
      assert.ok(m, `${where}: summary type '${exp.type}' not handled by this test`);
      assert.ok(actual instanceof PyObject && actual.className === m[1], `${where}: expected an instance of ${m[1]}`);
      assert.equal(actual.attrs.training, exp.training, `${where}: training`);
      const sd = moduleStateDict(actual);
      const expSd = exp.state_dict as Node;
      assert.deepEqual([...sd.keys()], expSd.keys, `${where}: state_dict keys`);
      const items = expSd.items as Record<string, Node>;
      for (const [k, t] of sd) await checkNode(t, items[k], `${where}.state_dict.${k}`);
    }
  }
}

interface FileSummary {
  file: string;
  bytes: number;
  zip_records: Array<{ name: string; size: number; compress_type: number; header_offset: number }>;
  pickle: { data_pkl_record: string; pickle_protocol: number; globals: string[]; persistent_ids: number };
  content: Node;
}

const summaries: Array<[string, FileSummary]> = [];
for (const [summaryPath, base] of [
  ['torch_files_summary.json', ''],
  ['torch-real/summary.json', 'torch-real/'],
] as const) {
  const s = JSON.parse(readFileSync(fixture(summaryPath), 'utf8')) as { files: FileSummary[] };
  for (const f of s.files) summaries.push([`${base}${f.file}`, f]);
}

for (const [rel, exp] of summaries) {
  test(`reads ${rel} as torch does`, async () => {
    const path = fixture(rel);
    const records = listTorchRecords(path);
    assert.deepEqual(
      records.map((r) => ({ name: r.name, size: r.size, compress_type: r.compressionMethod, header_offset: r.headerOffset })),
      exp.zip_records,
    );
    const ckpt = await readTorchFile(path);
    assert.equal(`${ckpt.prefix}data.pkl`, exp.pickle.data_pkl_record);
    assert.equal(ckpt.pickle.protocol, exp.pickle.pickle_protocol);
    assert.deepEqual(ckpt.pickle.globals, exp.pickle.globals);
    assert.equal(ckpt.pickle.persistentIds, exp.pickle.persistent_ids);
    await checkNode(ckpt.root, exp.content, rel);
  });
}

test('tied tensors share one storage (fair-esm lm_head.weight and embed_tokens.weight)', async () => {
  const ckpt = await readTorchFile(fixture('esm2/fair-esm/esm2_t2_32_tiny.pt'));
  const model = (ckpt.root as PyDict).get('model') as PyDict;
  const a = model.get('encoder.sentence_encoder.embed_tokens.weight') as TorchTensor;
  const b = model.get('encoder.lm_head.weight') as TorchTensor;
  assert.equal(a.storage, b.storage);
  assert.deepEqual(await a.bytes(), await b.bytes());
});
