/**
 * Writes a GraphBuilder as an ONNX model whose weights are ONNX external data
 * in a side file (`<model>.onnx.data`). Weights are streamed: each one is
 * read from its source, converted and appended before the next is read, so
 * writing an 11 GB model holds one tensor in memory at a time.
 *
 * The model file is written last and atomically, after the data file is
 * complete and fsynced: a `.onnx` present under its final name always has
 * its data. Sessions then load the model BY PATH, which memory-maps the data
 * file (no 2 GiB limit, no copy).
 *
 * Every floating-point weight is checked for NaN and infinities on its way
 * through (in the dtype written, so a float32 value beyond float16's range is
 * caught under --fp16 too): a model with one would turn every score it touches
 * into `nan` without an error.
 */
import { basename } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AtomicFileWriter, writeFileAtomic } from '../../util/atomic.js';
import { InputError } from '../../util/errors.js';
import { TOOL_VERSION } from '../../util/version.js';
import { ModelProto, OnnxDataType, AttributeType, DATA_LOCATION_EXTERNAL } from './proto.js';
import type { AttrValue, ElemType, GraphBuilder, ValueSpec } from './graph.js';

/** ONNX IR version written (opset 18 needs >= 8). */
export const IR_VERSION = 8;
/** Alignment of each tensor in the data file (page size: lets the runtime map tensors directly). */
const DATA_ALIGNMENT = 4096;

export interface WrittenModel {
  modelPath: string;
  dataPath: string;
  /** Bytes of weights in the data file (excluding alignment padding). */
  weightBytes: number;
}

export interface WriteOptions {
  /** Called after each weight is written (progress for multi-GB models). */
  onWeight?: (name: string, done: number, total: number) => void;
  /** Where the weights were read from, for messages (default: the graph's name). */
  source?: string;
}

/** Writes `graph` to `modelPath` and its weights to `modelPath + '.data'`. */
export async function writeOnnxModel(graph: GraphBuilder, modelPath: string, options: WriteOptions = {}): Promise<WrittenModel> {
  await mkdir(dirname(modelPath), { recursive: true });
  const dataPath = `${modelPath}.data`;
  const location = basename(dataPath);
  const data = new AtomicFileWriter(dataPath);
  const initializers: object[] = [];
  let offset = 0;
  let weightBytes = 0;
  try {
    for (const [k, w] of graph.weights.entries()) {
      const bytes = await w.bytes();
      const expected = w.dims.reduce((a, b) => a * b, 1) * ELEM_BYTES[w.elemType];
      if (bytes.byteLength !== expected) {
        throw new Error(`weight ${w.name}: expected ${expected} bytes for ${w.elemType}[${w.dims.join(', ')}], got ${bytes.byteLength}`);
      }
      const bad = firstNonFinite(w.elemType, bytes);
      if (bad) throw nonFiniteWeight(options.source ?? graph.name, w.name, w.elemType, bad);
      const pad = (DATA_ALIGNMENT - (offset % DATA_ALIGNMENT)) % DATA_ALIGNMENT;
      if (pad > 0) data.write(new Uint8Array(pad));
      offset += pad;
      data.write(bytes);
      initializers.push({
        name: w.name,
        dims: w.dims,
        data_type: OnnxDataType[w.elemType],
        data_location: DATA_LOCATION_EXTERNAL,
        external_data: [
          { key: 'location', value: location },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(bytes.byteLength) },
        ],
      });
      offset += bytes.byteLength;
      weightBytes += bytes.byteLength;
      options.onWeight?.(w.name, k + 1, graph.weights.length);
    }
    data.commit();
  } catch (e) {
    data.abort();
    throw e;
  }
  for (const c of graph.constants) {
    initializers.push({ name: c.name, dims: c.dims, data_type: OnnxDataType[c.elemType], raw_data: c.raw });
  }
  await writeFileAtomic(modelPath, encodeModel(graph, initializers));
  return { modelPath, dataPath, weightBytes };
}

/** The first NaN or infinity among `bytes` of `elemType` (integer types have none). */
export function firstNonFinite(elemType: ElemType, bytes: Uint8Array): { index: number; value: number } | undefined {
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
  const { buffer, byteOffset, byteLength } = aligned;
  switch (elemType) {
    case 'float32': {
      // Exponent bits all ones: infinity or NaN. Integer compares, no float conversion.
      const bits = new Uint32Array(buffer, byteOffset, byteLength / 4);
      for (let i = 0; i < bits.length; i++) {
        if ((bits[i] & 0x7f800000) === 0x7f800000) return { index: i, value: new Float32Array(buffer, byteOffset + i * 4, 1)[0] };
      }
      return undefined;
    }
    case 'float16':
    case 'bfloat16': {
      const mask = elemType === 'float16' ? 0x7c00 : 0x7f80;
      const bits = new Uint16Array(buffer, byteOffset, byteLength / 2);
      for (let i = 0; i < bits.length; i++) {
        if ((bits[i] & mask) === mask) return { index: i, value: bits[i] & (elemType === 'float16' ? 0x3ff : 0x7f) ? NaN : bits[i] & 0x8000 ? -Infinity : Infinity };
      }
      return undefined;
    }
    case 'float64': {
      const values = new Float64Array(buffer, byteOffset, byteLength / 8);
      for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return { index: i, value: values[i] };
      return undefined;
    }
    default:
      return undefined;
  }
}

function nonFiniteWeight(source: string, weight: string, elemType: ElemType, bad: { index: number; value: number }): InputError {
  // Builders name split parts of a packed weight `name#part`: report the weight as the file names it.
  const name = weight.replace(/#.*$/, '');
  const overflow = elemType === 'float16' && !Number.isNaN(bad.value);
  return new InputError(`${source}: weight '${name}' holds ${bad.value}${overflow ? ' in float16' : ''} (element ${bad.index}); a model with non-finite weights gives NaN scores`, {
    hint: overflow
      ? "a value exceeds float16's range: prepare the model without --fp16"
      : 'the file is damaged or comes from a training run that diverged: use the published weights (`virnucpro models fetch`)',
  });
}

const ELEM_BYTES: Record<keyof typeof OnnxDataType, number> = {
  float32: 4,
  uint8: 1,
  int8: 1,
  int16: 2,
  int32: 4,
  int64: 8,
  bool: 1,
  float16: 2,
  float64: 8,
  bfloat16: 2,
};

function encodeModel(graph: GraphBuilder, initializers: object[]): Uint8Array {
  const model = {
    ir_version: IR_VERSION,
    producer_name: 'virnucpro',
    producer_version: TOOL_VERSION,
    opset_import: [...graph.opsets].map(([domain, version]) => ({ domain, version })),
    metadata_props: [...graph.metadata].map(([key, value]) => ({ key, value })),
    graph: {
      name: graph.name,
      node: graph.nodes.map((n) => ({
        name: n.name,
        op_type: n.opType,
        domain: n.domain,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attributes).map(([name, v]) => encodeAttribute(name, v)),
      })),
      initializer: initializers,
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
    },
  };
  const err = ModelProto.verify(model);
  if (err) throw new Error(`internal: invalid ONNX model object: ${err}`);
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}

function valueInfo(v: ValueSpec): object {
  const tensor: Record<string, unknown> = { elem_type: OnnxDataType[v.elemType] };
  if (v.dims) {
    tensor.shape = { dim: v.dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) };
  }
  return { name: v.name, type: { tensor_type: tensor } };
}

function encodeAttribute(name: string, v: AttrValue): object {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}: ${v} is not an integer (wrap floats with float())`);
    return { name, type: AttributeType.INT, i: v };
  }
  if (typeof v === 'string') return { name, type: AttributeType.STRING, s: Buffer.from(v, 'utf8') };
  if (Array.isArray(v)) return { name, type: AttributeType.INTS, ints: v };
  if ('float' in v) return { name, type: AttributeType.FLOAT, f: v.float };
  return { name, type: AttributeType.FLOATS, floats: v.floats };
}
