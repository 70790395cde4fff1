/**
 * Writes checkpoints that `torch.load` reads: a stored (uncompressed) zip
 * with `<name>/data.pkl` (pickle protocol 2), one `<name>/data/<key>` record
 * per storage with its data 64-byte aligned (as torch pads with an 'FB'
 * extra field), `<name>/byteorder` and `<name>/version`. ZIP64 records and
 * end records are written when a file or offset passes 4 GiB.
 *
 * Tensors are written one at a time from LazyTensor.bytes(), so a multi-GB
 * checkpoint needs only its largest tensor in memory. The file appears under
 * its final name only once complete (AtomicFileWriter).
 *
 * Layouts: a plain state_dict (OrderedDict), fair-esm's
 * `{"model": OrderedDict, "cfg": {"model": argparse.Namespace}}`, and
 * any nn.Module tree as a whole-module pickle (torchModuleObject).
 */
import { basename, extname } from 'node:path';
import { crc32 } from 'node:zlib';
import { AtomicFileWriter } from '../../util/atomic.js';
import { DTYPE_BYTES, numel, type LazyTensor, type TensorMap } from '../tensor.js';
import { PyDict, PyObject } from './pickle.js';
import { PyParameter, picklePy } from './pickler.js';

const ALIGN = 64;
const U32_MAX = 0xffffffff;

interface WrittenRecord {
  name: Buffer;
  crc: number;
  size: number;
  headerOffset: number;
}

/** Streams zip records into an AtomicFileWriter and writes the central directory at the end. */
class ZipStreamWriter {
  private offset = 0;
  private readonly records: WrittenRecord[] = [];
  constructor(private readonly out: AtomicFileWriter) {}

  private emit(b: Uint8Array): void {
    this.out.write(b);
    this.offset += b.byteLength;
  }

  /** Adds one stored record; `crc` is the CRC-32 of `data`. */
  add(name: string, data: Uint8Array): void {
    const nameBuf = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const size = data.byteLength;
    const zip64 = size >= U32_MAX;
    const z64 = zip64 ? Buffer.alloc(20) : Buffer.alloc(0);
    if (zip64) {
      z64.writeUInt16LE(0x0001, 0);
      z64.writeUInt16LE(16, 2);
      z64.writeBigUInt64LE(BigInt(size), 4);
      z64.writeBigUInt64LE(BigInt(size), 12);
    }
    // Pad with an 'FB' extra field so the data starts on a 64-byte boundary, as torch does.
    const base = this.offset + 30 + nameBuf.length + z64.length + 4;
    const pad = (ALIGN - (base % ALIGN)) % ALIGN;
    const fb = Buffer.alloc(4 + pad);
    fb.writeUInt16LE(0x4246, 0);
    fb.writeUInt16LE(pad, 2);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(zip64 ? 45 : 20, 4);
    h.writeUInt16LE(0x0800, 6); // UTF-8 names
    h.writeUInt16LE(0, 8); // stored
    h.writeUInt32LE(0, 10); // time/date
    h.writeUInt32LE(crc, 14);
    h.writeUInt32LE(zip64 ? U32_MAX : size, 18);
    h.writeUInt32LE(zip64 ? U32_MAX : size, 22);
    h.writeUInt16LE(nameBuf.length, 26);
    h.writeUInt16LE(z64.length + fb.length, 28);
    const headerOffset = this.offset;
    this.emit(h);
    this.emit(nameBuf);
    this.emit(z64);
    this.emit(fb);
    this.emit(data);
    this.records.push({ name: nameBuf, crc, size, headerOffset });
  }

  /** Writes the central directory and end records. */
  finish(): void {
    const cdStart = this.offset;
    for (const r of this.records) {
      const big = r.size >= U32_MAX || r.headerOffset >= U32_MAX;
      const extra: Buffer[] = [];
      if (big) {
        const vals: number[] = [];
        if (r.size >= U32_MAX) vals.push(r.size, r.size);
        if (r.headerOffset >= U32_MAX) vals.push(r.headerOffset);
        const z = Buffer.alloc(4 + 8 * vals.length);
        z.writeUInt16LE(0x0001, 0);
        z.writeUInt16LE(8 * vals.length, 2);
        vals.forEach((v, i) => z.writeBigUInt64LE(BigInt(v), 4 + 8 * i));
        extra.push(z);
      }
      const ex = Buffer.concat(extra);
      const c = Buffer.alloc(46);
      c.writeUInt32LE(0x02014b50, 0);
      c.writeUInt16LE(big ? 45 : 20, 4);
      c.writeUInt16LE(big ? 45 : 20, 6);
      c.writeUInt16LE(0x0800, 8);
      c.writeUInt16LE(0, 10);
      c.writeUInt32LE(0, 12);
      c.writeUInt32LE(r.crc, 16);
      c.writeUInt32LE(r.size >= U32_MAX ? U32_MAX : r.size, 20);
      c.writeUInt32LE(r.size >= U32_MAX ? U32_MAX : r.size, 24);
      c.writeUInt16LE(r.name.length, 28);
      c.writeUInt16LE(ex.length, 30);
      c.writeUInt32LE(r.headerOffset >= U32_MAX ? U32_MAX : r.headerOffset, 42);
      this.emit(c);
      this.emit(r.name);
      this.emit(ex);
    }
    const cdSize = this.offset - cdStart;
    const n = this.records.length;
    const needZip64 = cdStart >= U32_MAX || n >= 0xffff;
    if (needZip64) {
      const z = Buffer.alloc(56);
      z.writeUInt32LE(0x06064b50, 0);
      z.writeBigUInt64LE(44n, 4);
      z.writeUInt16LE(45, 12);
      z.writeUInt16LE(45, 14);
      z.writeBigUInt64LE(BigInt(n), 24);
      z.writeBigUInt64LE(BigInt(n), 32);
      z.writeBigUInt64LE(BigInt(cdSize), 40);
      z.writeBigUInt64LE(BigInt(cdStart), 48);
      const z64Offset = this.offset;
      this.emit(z);
      const loc = Buffer.alloc(20);
      loc.writeUInt32LE(0x07064b50, 0);
      loc.writeBigUInt64LE(BigInt(z64Offset), 8);
      loc.writeUInt32LE(1, 16);
      this.emit(loc);
    }
    const e = Buffer.alloc(22);
    e.writeUInt32LE(0x06054b50, 0);
    e.writeUInt16LE(needZip64 ? 0xffff : n, 8);
    e.writeUInt16LE(needZip64 ? 0xffff : n, 10);
    e.writeUInt32LE(needZip64 ? U32_MAX : cdSize, 12);
    e.writeUInt32LE(needZip64 ? U32_MAX : cdStart, 16);
    this.emit(e);
  }
}

/** Writes a stored zip from in-memory records (tests and small bundles; torch checkpoints use writeTorchFile). */
export function writeStoredZip(path: string, records: Array<[string, Uint8Array]>): void {
  const out = new AtomicFileWriter(path);
  try {
    const zip = new ZipStreamWriter(out);
    for (const [name, data] of records) zip.add(name, data);
    zip.finish();
    out.commit();
  } catch (e) {
    out.abort();
    throw e;
  }
}

export interface WriteTorchOptions {
  /** The archive's internal folder name; torch uses the file name without extension. */
  archiveName?: string;
  /** Called after each storage is written (bytes written so far, total). */
  onProgress?: (written: number, total: number) => void;
}

/** Writes any picklable object graph (PyDict, PyObject, arrays, primitives, tensors) as a torch checkpoint. */
export async function writeTorchFile(path: string, root: unknown, options: WriteTorchOptions = {}): Promise<void> {
  const archive = options.archiveName ?? basename(path, extname(path));
  const { data, storages } = picklePy(root);
  const total = storages.reduce((a, s) => a + numel(s.tensor.shape) * DTYPE_BYTES[s.tensor.dtype], 0);
  const out = new AtomicFileWriter(path);
  try {
    const zip = new ZipStreamWriter(out);
    zip.add(`${archive}/data.pkl`, data);
    zip.add(`${archive}/byteorder`, Buffer.from('little'));
    let written = 0;
    for (const s of storages) {
      const bytes = await s.tensor.bytes();
      const want = numel(s.tensor.shape) * DTYPE_BYTES[s.tensor.dtype];
      if (bytes.byteLength !== want) throw new Error(`storage ${s.key}: tensor produced ${bytes.byteLength} bytes, expected ${want}`);
      zip.add(`${archive}/data/${s.key}`, bytes);
      written += want;
      options.onProgress?.(written, total);
    }
    zip.add(`${archive}/version`, Buffer.from('3\n'));
    zip.finish();
    out.commit();
  } catch (e) {
    out.abort();
    throw e;
  }
}

/** `collections.OrderedDict` of tensors, as `model.state_dict()` is pickled. */
export function stateDictObject(entries: TensorMap): PyDict {
  const d = new PyDict('collections.OrderedDict');
  for (const [k, t] of entries) d.set(k, t);
  return d;
}

/** fair-esm's checkpoint fields (argparse.Namespace in cfg['model']). */
export interface FairEsmArgs {
  encoder_layers: number;
  encoder_embed_dim: number;
  encoder_ffn_embed_dim: number;
  encoder_attention_heads: number;
  token_dropout: boolean;
}

/** `{"model": state_dict (fair-esm names), "cfg": {"model": argparse.Namespace(...)}}`. */
export function fairEsmCheckpointObject(state: TensorMap, args: FairEsmArgs): PyDict {
  const ns = new PyObject('argparse.Namespace');
  Object.assign(ns.attrs, args);
  const cfg = new PyDict();
  cfg.set('model', ns);
  const root = new PyDict();
  root.set('model', stateDictObject(state));
  root.set('cfg', cfg);
  return root;
}

/** The parts of one `torch.nn.Module` as `torch.save(model)` pickles it. */
export interface TorchModuleParts {
  /** The module's class, e.g. `torch.nn.modules.linear.Linear`. */
  className: string;
  parameters?: Array<[string, LazyTensor]>;
  buffers?: Array<[string, LazyTensor]>;
  children?: Array<[string, PyObject]>;
  /** The module's own attributes (in_features, eps, …). */
  attributes?: Record<string, unknown>;
}

/** An nn.Module object in eval mode with torch 1.13's attribute set, its parameters wrapped as `Parameter`s. */
export function torchModuleObject(parts: TorchModuleParts): PyObject {
  const m = new PyObject(parts.className);
  const od = (): PyDict => new PyDict('collections.OrderedDict');
  const params = od();
  for (const [k, t] of parts.parameters ?? []) params.set(k, new PyParameter(t));
  const bufs = od();
  for (const [k, t] of parts.buffers ?? []) bufs.set(k, t);
  const mods = od();
  for (const [k, c] of parts.children ?? []) mods.set(k, c);
  Object.assign(m.attrs, {
    training: false,
    _parameters: params,
    _buffers: bufs,
    _non_persistent_buffers_set: new Set(),
    _backward_hooks: od(),
    _is_full_backward_hook: null,
    _forward_hooks: od(),
    _forward_pre_hooks: od(),
    _state_dict_hooks: od(),
    _load_state_dict_pre_hooks: od(),
    _load_state_dict_post_hooks: od(),
    _modules: mods,
    ...parts.attributes,
  });
  return m;
}

export type TorchLayout = { kind: 'state_dict' } | { kind: 'fair-esm'; args: FairEsmArgs };

/**
 * Writes tensors as a torch checkpoint in one of the layouts users have:
 * a state_dict (default) or a fair-esm checkpoint (entries use fair-esm's own
 * names, e.g. `encoder.sentence_encoder.layers.0.fc1.weight`). A whole-module
 * pickle is writeTorchFile of a torchModuleObject tree (the classifier's:
 * models/classifier-module.ts).
 */
export async function writeTorchStateDict(
  path: string,
  entries: TensorMap,
  options: WriteTorchOptions & { layout?: TorchLayout } = {},
): Promise<void> {
  const layout = options.layout ?? { kind: 'state_dict' };
  const root = layout.kind === 'fair-esm' ? fairEsmCheckpointObject(entries, layout.args) : stateDictObject(entries);
  await writeTorchFile(path, root, options);
}
