/**
 * Integrity and sanity of model files: nothing damaged, swapped, non-finite or
 * mismatched is used silently. Every hostile file is made on the fly in a temp dir.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openBundle, writeBundle } from '../../src/models/bundle.js';
import { loadClassifier, loadDnabert, loadEsm2 } from '../../src/models/load.js';
import { PUBLISHED_CLASSIFIERS, type PublishedClassifier } from '../../src/hub/registry.js';
import { checkTokenizerFile, loadDnaTokenizer } from '../../src/models/tokenizers/dnabert.js';
import { readZipDirectory } from '../../src/formats/pytorch/zip.js';
import { readTorchFile, TorchTensor } from '../../src/formats/pytorch/checkpoint.js';
import { writeTorchStateDict } from '../../src/formats/pytorch/writer.js';
import { writeClassifierModule } from '../../src/models/classifier-module.js';
import { writeSafetensors } from '../../src/formats/safetensors.js';
import { firstNonFinite } from '../../src/formats/onnx/writer.js';
import { memoryTensor, readFloat32, type TensorMap } from '../../src/formats/tensor.js';
import { graphFor } from '../../src/runtime/graph-cache.js';
import { resolveModels } from '../../src/pipeline/models.js';
import { FileHashMemo } from '../../src/util/hash-memo.js';
import { gitBlobSha1OfFile } from '../../src/util/hash.js';
import { jsonSyntaxProblem } from '../../src/util/json.js';
import { InputError, UsageError, ExitCode } from '../../src/util/errors.js';
import { fixture, tempDir } from '../helpers.js';
import { classifierFromJson } from '../runtime/fixture-models.js';

const ESM = fixture('esm2/hf');
const DNABERT = fixture('dnabert-s/model');

/** Sets `file`'s atime/mtime to `ref`'s to the nanosecond (`touch -r`, as a user hiding a change would). */
function touchLike(file: string, ref: string): void {
  const r = spawnSync('touch', ['-r', ref, file]);
  assert.equal(r.status, 0, String(r.stderr));
}

/** Overwrites one byte in place (same size, same inode) and puts the mtime back. */
function corruptInPlace(file: string, offset: number): void {
  const ref = `${file}.mtime-ref`;
  writeFileSync(ref, '');
  touchLike(ref, file);
  const bytes = readFileSync(file);
  bytes[offset] ^= 0xff;
  writeFileSync(file, bytes);
  touchLike(file, ref);
  const [a, b] = [statSync(file, { bigint: true }), statSync(ref, { bigint: true })];
  assert.equal(a.mtimeNs, b.mtimeNs, 'mtime restored to the nanosecond');
}

/** A whole-module classifier `.pth` (as 500_model.pth is saved) from the fixture weights, `bias` added to one bias. */
async function writeClassifier(path: string, bias = 0): Promise<void> {
  const model = classifierFromJson();
  const weights: TensorMap = new Map(model.weights);
  const b = await readFloat32(weights.get('output_layer.bias')!);
  weights.set('output_layer.bias', memoryTensor('float32', [b.length], b.map((x) => x + bias)));
  await writeClassifierModule(path, weights, model.config);
}

async function prepareBundle(out: string, classifier: string): Promise<void> {
  await writeBundle(
    out,
    {
      esm2: await loadEsm2(ESM),
      dnabert: { model: await loadDnabert(DNABERT), tokenizerPath: join(DNABERT, 'tokenizer.json') },
      classifier: await loadClassifier(classifier),
    },
    { precision: 'fp32', sourceChecksums: true },
  );
}

test('a bundle .data file corrupted in place, size and mtime kept, is refused with the command that re-creates it', async () => {
  const root = tempDir();
  const classifier = join(root, 'clf.pth');
  await writeClassifier(classifier);
  const bundle = join(root, 'bundle');
  await prepareBundle(bundle, classifier);
  const ok = await resolveModels({ bundle, precision: 'fp32', cacheDir: join(root, 'cache') });
  assert.match(readFileSync(join(bundle, '.verified.json'), 'utf8'), /classifier\.onnx\.data/);

  const data = join(bundle, 'classifier.onnx.data');
  corruptInPlace(data, Math.floor(statSync(data).size / 2));
  await assert.rejects(resolveModels({ bundle, precision: 'fp32', cacheDir: join(root, 'cache') }), (e: unknown) => {
    assert.ok(e instanceof InputError && e.exitCode === ExitCode.badInput, String(e));
    assert.match(e.message, /classifier\.onnx\.data does not match its checksum/);
    // The exact command, from the sources the manifest records.
    assert.ok(e.hint?.includes(`virnucpro models prepare --esm ${ESM} --dnabert ${DNABERT} --classifier ${classifier} --out ${bundle} --force`), e.hint);
    return true;
  });
  assert.match(ok.sha256, /^[0-9a-f]{64}$/);
});

test('the memo of verified files trusts an unchanged file and nothing else, ctime included', async () => {
  const root = tempDir();
  const file = join(root, 'weights.bin');
  writeFileSync(file, Buffer.alloc(1 << 16, 7));
  const memoPath = join(root, 'memo.json');
  const first = await FileHashMemo.load(memoPath);
  const { sha256, hashed } = await first.sha256('w', file);
  assert.equal(hashed, true);
  assert.equal(await first.save(), true);

  const again = await FileHashMemo.load(memoPath);
  // A file written in the same filesystem clock tick as the memo is "racy" and read again (then trusted).
  if ((await again.trusted('w', file)) === undefined) {
    await again.sha256('w', file);
    await again.save();
  }
  assert.equal(await (await FileHashMemo.load(memoPath)).trusted('w', file), sha256);

  corruptInPlace(file, 100);
  const afterCorruption = await FileHashMemo.load(memoPath);
  assert.equal(await afterCorruption.trusted('w', file), undefined, 'same size and mtime, but the ctime moved');
  const reread = await afterCorruption.sha256('w', file);
  assert.equal(reread.hashed, true);
  assert.notEqual(reread.sha256, sha256);

  writeFileSync(memoPath, 'not json');
  assert.equal(await (await FileHashMemo.load(memoPath)).trusted('w', file), undefined, 'a damaged memo is an empty one');
});

test('a read-only bundle keeps its memo in the cache directory', { skip: process.getuid?.() === 0 ? 'root can write anywhere' : false }, async () => {
  const root = tempDir();
  const classifier = join(root, 'clf.pth');
  await writeClassifier(classifier);
  const bundle = join(root, 'bundle');
  await prepareBundle(bundle, classifier);
  spawnSync('chmod', ['-R', 'a-w', bundle]);
  try {
    await openBundle(bundle, { cacheDir: join(root, 'cache') });
    assert.equal(readdirSync(join(root, 'cache', 'verified')).length, 1);
  } finally {
    spawnSync('chmod', ['-R', 'u+w', bundle]);
  }
});

test('the graph cache is keyed by content: another classifier with the same path, size and mtime gets its own graph and checksum', async () => {
  const root = tempDir();
  const cacheDir = join(root, 'cache');
  const classifier = join(root, 'clf.pth');
  await writeClassifier(classifier, 0);
  const ref = join(root, 'ref');
  writeFileSync(ref, '');
  touchLike(ref, classifier);
  const choice = { esm: ESM, dnabert: DNABERT, classifier, precision: 'fp32' as const, cacheDir };
  const first = await resolveModels(choice);

  const size = statSync(classifier).size;
  await writeClassifier(classifier, 0.25);
  touchLike(classifier, ref);
  assert.equal(statSync(classifier).size, size, 'same size');
  const second = await resolveModels(choice);
  assert.notEqual(second.dirs.classifier, first.dirs.classifier);
  assert.notEqual(second.sha256, first.sha256, 'run.json reports the weights actually used');
  assert.equal(second.dirs.esm2, first.dirs.esm2, 'unchanged models keep their graphs');

  // The same content at another path reuses the graph.
  const copy = join(root, 'copy.pth');
  copyFileSync(classifier, copy);
  const third = await resolveModels({ ...choice, classifier: copy });
  assert.equal(third.dirs.classifier, second.dirs.classifier);
  assert.deepEqual(third.sources.classifier.sources, [copy]);
});

test('a .pt with a damaged tensor or pickle record (bad CRC-32) is refused, naming the file and the record', async () => {
  const root = tempDir();
  const classifier = join(root, 'clf.pth');
  await writeClassifier(classifier);
  const zip = readZipDirectory(classifier);
  const tensor = zip.records.find((r) => /\/data\/\d+$/.test(r.name) && r.size >= 64)!;
  const damaged = join(root, 'damaged.pth');
  copyFileSync(classifier, damaged);
  corruptInPlace(damaged, tensor.dataOffset + 5);
  const model = await loadClassifier(damaged); // headers only: the tensor is read when the graph is built
  await assert.rejects(graphFor({ classifier: model }, { precision: 'fp32', cacheDir: join(root, 'cache') }), (e: unknown) => {
    assert.ok(e instanceof InputError, String(e));
    assert.ok(e.message.startsWith(`${damaged}: zip record '${tensor.name}' is damaged`), e.message);
    return true;
  });

  const pkl = zip.records.find((r) => r.name.endsWith('data.pkl'))!;
  const badPickle = join(root, 'bad-pickle.pth');
  copyFileSync(classifier, badPickle);
  corruptInPlace(badPickle, pkl.dataOffset + pkl.size - 3);
  await assert.rejects(readTorchFile(badPickle), new RegExp(`zip record '${pkl.name}' is damaged`));
});

test('a storage read in parts is checked whole before its first part is used', async () => {
  const root = tempDir();
  const path = join(root, 'shared.pt');
  // Two views of one storage: rows 0 and 1 of a [2, 64] float32 tensor, saved as a state_dict.
  const base = memoryTensor('float32', [128], Float32Array.from({ length: 128 }, (_, i) => i));
  await writeTorchStateDict(path, new Map([['w', base]]));
  const record = readZipDirectory(path).records.find((r) => r.name.endsWith('/data/0'))!;
  corruptInPlace(path, record.dataOffset + 400); // element 100
  const ckpt = await readTorchFile(path);
  const storage = [...ckpt.storages.values()][0];
  const firstHalf = new TorchTensor(ckpt, storage, 0, [64], [1]); // does not even touch the damaged element
  await assert.rejects(firstHalf.bytes(), /is damaged/);
});

test('non-finite weights are refused when the graph is built, naming the tensor and the file', async () => {
  const root = tempDir();
  const model = classifierFromJson();
  const w = await readFloat32(model.weights.get('hidden_layer.weight')!);
  w[17] = NaN;
  const weights: TensorMap = new Map(model.weights);
  weights.set('hidden_layer.weight', memoryTensor('float32', model.weights.get('hidden_layer.weight')!.shape, w));
  const path = join(root, 'nan_model.safetensors');
  await writeSafetensors(path, weights);
  const loaded = await loadClassifier(path);
  await assert.rejects(graphFor({ classifier: loaded }, { precision: 'fp32', cacheDir: join(root, 'cache') }), (e: unknown) => {
    assert.ok(e instanceof InputError, String(e));
    assert.ok(e.message.startsWith(`${path}: weight 'hidden_layer.weight' holds NaN (element 17)`), e.message);
    return true;
  });
  assert.deepEqual(readdirSync(join(root, 'cache', 'graphs')).filter((n) => !n.startsWith('.')), [], 'no graph left in the cache');

  // Every float layout the writer emits; a float32 value beyond float16's range shows up as infinity there.
  assert.deepEqual(firstNonFinite('float32', new Uint8Array(Float32Array.from([1, -Infinity]).buffer)), { index: 1, value: -Infinity });
  assert.deepEqual(firstNonFinite('float16', Uint8Array.from([0x00, 0x3c, 0x00, 0x7c])), { index: 1, value: Infinity });
  assert.ok(Number.isNaN(firstNonFinite('bfloat16', Uint8Array.from([0x00, 0x3f, 0xc1, 0x7f]))?.value));
  assert.deepEqual(firstNonFinite('float64', new Uint8Array(Float64Array.from([NaN]).buffer))?.index, 0);
  assert.equal(firstNonFinite('float32', new Uint8Array(Float32Array.from([0, -1e38, 3.4e38]).buffer)), undefined);
  assert.equal(firstNonFinite('int64', new Uint8Array(8).fill(0xff)), undefined);
});

test("VirNucPro's published classifiers are recognised by content and -e is checked against them", async () => {
  // The production table holds the real git blob ids of the pinned commit.
  assert.deepEqual(
    PUBLISHED_CLASSIFIERS.map((p) => [p.file, p.expectedLength, p.gitSha1]),
    [
      ['300_model.pth', 300, 'a0b5b85e7c1e44f00cde146d091beb82b2c8e855'],
      ['500_model.pth', 500, 'fc35d5ef9f1f4564eea7036f34f4f8ec6000d33d'],
    ],
  );
  const root = tempDir();
  const cacheDir = join(root, 'cache');
  const classifier = join(root, '500_model.pth');
  await writeClassifier(classifier);
  // The real 500_model.pth cannot ship with the tests: recognise this file as it instead.
  const table: PublishedClassifier[] = [{ id: 'classifier-500', file: '500_model.pth', expectedLength: 500, gitSha1: await gitBlobSha1OfFile(classifier) }];
  const raw = { esm: ESM, dnabert: DNABERT, classifier, precision: 'fp32' as const, cacheDir, publishedClassifiers: table };

  await assert.rejects(resolveModels({ ...raw, expectedLength: 300 }), (e: unknown) => {
    assert.ok(e instanceof UsageError && e.exitCode === ExitCode.badInput, String(e));
    assert.equal(e.message, `${classifier} is VirNucPro's published classifier for -e 500, not for -e 300`);
    assert.match(e.hint ?? '', /--allow-length-mismatch/);
    return true;
  });
  assert.ok(!readdirSync(join(cacheDir, 'graphs')).some((n) => n.startsWith('esm2-')), 'refused before the ESM-2 graph is built');
  const warnings: string[] = [];
  const allowed = await resolveModels({ ...raw, expectedLength: 300, allowLengthMismatch: true, warn: (l) => warnings.push(l) });
  assert.equal(allowed.sources.classifier.published, 'classifier-500');
  assert.match(warnings.join('\n'), /warning: .*published classifier for -e 500, not for -e 300; running it anyway/);
  const matching = await resolveModels({ ...raw, expectedLength: 500 });
  assert.equal(matching.sources.classifier.published, 'classifier-500');
  // Unrecognised content (the production table): nothing to check.
  assert.equal((await resolveModels({ ...raw, publishedClassifiers: undefined, expectedLength: 300 })).sources.classifier.published, undefined);

  // A bundle prepared from it is recognised too, through the git blob id its manifest records.
  const bundle = join(root, 'bundle');
  await prepareBundle(bundle, classifier);
  await assert.rejects(resolveModels({ bundle, precision: 'fp32', cacheDir, publishedClassifiers: table, expectedLength: 300 }), /the bundle's classifier \(500_model\.pth\) is VirNucPro's published classifier for -e 500/);
});

/** A copy of the fixture DNABERT-S directory whose tokenizer.json is `tokenizer` (text, or a link target). */
function dnabertDir(root: string, tokenizer: { text: string } | { linkTo: string }): string {
  const dir = join(root, 'dnabert');
  cpSync(DNABERT, dir, { recursive: true });
  const tok = join(dir, 'tokenizer.json');
  if ('text' in tokenizer) writeFileSync(tok, tokenizer.text);
  else {
    spawnSync('rm', [tok]);
    symlinkSync(tokenizer.linkTo, tok);
  }
  return dir;
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath ?? d.path, d.name));
}

test('a broken tokenizer.json is reported under the user\'s path, without quoting it', async () => {
  const root = tempDir();
  const cacheDir = join(root, 'cache');
  const dir = dnabertDir(root, { text: 'SECRET-TOKEN-1234 this is not json' });
  await assert.rejects(resolveModels({ esm: ESM, dnabert: dir, classifier: fixture('mlp/mlp_full_module.pth'), precision: 'fp32', cacheDir }), (e: unknown) => {
    assert.ok(e instanceof InputError, String(e));
    assert.equal(e.message, `${join(dir, 'tokenizer.json')}: tokenizer.json is not valid JSON (invalid JSON)`);
    return true;
  });
  const truncated = dnabertDir(tempDir(), { text: '{"model": {"vocab": {"SECRET": 1' });
  await assert.rejects(loadDnaTokenizer(join(truncated, 'tokenizer.json')), (e: Error) => !e.message.includes('SECRET') && /invalid JSON at character \d+/.test(e.message));
  assert.equal(jsonSyntaxProblem(new SyntaxError('Unexpected end of JSON input')), 'invalid JSON (the text ends early)');
  assert.equal(jsonSyntaxProblem(new SyntaxError('Expected \',\' or \'}\' after property value in JSON at position 7')), 'invalid JSON at character 7');
});

test('a tokenizer.json linking outside its model directory is refused before it is read; HF cache links are followed', async () => {
  const root = tempDir();
  const cacheDir = join(root, 'cache');
  const secret = join(root, 'passwd');
  writeFileSync(secret, 'root:x:0:0:SECRET:/root:/bin/bash\n');
  const dir = dnabertDir(root, { linkTo: secret });
  await assert.rejects(resolveModels({ esm: ESM, dnabert: dir, classifier: fixture('mlp/mlp_full_module.pth'), precision: 'fp32', cacheDir }), (e: unknown) => {
    assert.ok(e instanceof InputError, String(e));
    assert.equal(e.message, `${join(dir, 'tokenizer.json')}: tokenizer.json is a symbolic link to ${secret}, outside the model directory ${dir}`);
    return true;
  });
  for (const f of filesUnder(root)) if (f !== secret) assert.ok(!readFileSync(f, 'latin1').includes('SECRET'), `${f} holds a copy`);

  // Inside the model directory: fine.
  const inside = dnabertDir(tempDir(), { linkTo: 'tokenizer.real.json' });
  copyFileSync(join(DNABERT, 'tokenizer.json'), join(inside, 'tokenizer.real.json'));
  await checkTokenizerFile(join(inside, 'tokenizer.json'));

  // A Hugging Face cache snapshot links into ../../blobs/.
  const hub = join(tempDir(), 'hub', 'models--zhihan1996--DNABERT-S');
  const snapshot = join(hub, 'snapshots', 'c'.repeat(40));
  mkdirSync(join(hub, 'blobs'), { recursive: true });
  mkdirSync(snapshot, { recursive: true });
  const blob = join(hub, 'blobs', 'a'.repeat(64));
  copyFileSync(join(DNABERT, 'tokenizer.json'), blob);
  symlinkSync(`../../blobs/${'a'.repeat(64)}`, join(snapshot, 'tokenizer.json'));
  assert.equal((await loadDnaTokenizer(join(snapshot, 'tokenizer.json'))).clsId, (await loadDnaTokenizer(join(DNABERT, 'tokenizer.json'))).clsId);
});
