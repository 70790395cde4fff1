/**
 * Embedding files written by `virnucpro embed`:
 *   .jsonl  one line per record, in input order: {"id": "...", "embedding": [...]}, each float
 *           printed with the fewest digits that parse back to the same float32;
 *   .npy    a float32 [records, dim] array (NumPy format 1.0), row i = record i, with the
 *           ids one per line in a sibling `<out>.ids.txt`;
 *   .safetensors  one F32 tensor `embeddings` [records, dim], row i = record i, with the same
 *           sibling `<out>.ids.txt` (a header holding millions of ids would exceed the 100 MB
 *           header limit of the safetensors readers); metadata names the ids file.
 * All are written atomically: the final names appear only when complete. The array formats
 * state their shape first, so they need the record count up front and stream rows after it.
 */
import { basename } from 'node:path';
import { safetensorsHeader } from '../formats/safetensors.js';
import { AtomicFileWriter } from '../util/atomic.js';
import { UsageError } from '../util/errors.js';

export type EmbeddingFormat = 'jsonl' | 'npy' | 'safetensors';

/** The tensor name in `.safetensors` embedding files. */
export const SAFETENSORS_EMBEDDINGS = 'embeddings';

export function embeddingFormatOf(path: string): EmbeddingFormat {
  if (path.endsWith('.jsonl')) return 'jsonl';
  if (path.endsWith('.npy')) return 'npy';
  if (path.endsWith('.safetensors')) return 'safetensors';
  throw new UsageError(`cannot tell the output format of '${path}'`, {
    hint: 'name it *.jsonl (text), *.npy or *.safetensors (float32 array + .ids.txt)',
  });
}

/** Whether the format states the record count before the rows (count the input first). */
export function needsRecordCount(format: EmbeddingFormat): boolean {
  return format !== 'jsonl';
}

/** The shortest decimal that reads back as the same float32 (NaN/Infinity as null: JSON has neither). */
export function float32ToShortest(x: number): string {
  if (!Number.isFinite(x)) return 'null';
  const f = Math.fround(x);
  for (let p = 1; p <= 9; p++) {
    const s = Number(f.toPrecision(p));
    if (Math.fround(s) === f) return String(s);
  }
  return String(f);
}

export interface EmbeddingSink {
  /** Appends rows in input order. */
  write(ids: readonly string[], vectors: readonly Float32Array[]): void;
  commit(): void;
  abort(): void;
}

/** Opens an output; `.npy` needs the record count up front (its header states the shape). */
export function openEmbeddingSink(path: string, dim: number, records: number): EmbeddingSink {
  switch (embeddingFormatOf(path)) {
    case 'jsonl':
      return jsonlSink(path);
    case 'npy':
      return arraySink(path, records, npyHeader([records, dim]));
    case 'safetensors':
      return arraySink(
        path,
        records,
        safetensorsHeader([{ name: SAFETENSORS_EMBEDDINGS, dtype: 'float32', shape: [records, dim] }], { format: 'virnucpro-embeddings', ids: basename(`${path}.ids.txt`) }),
      );
  }
}

function jsonlSink(path: string): EmbeddingSink {
  const out = new AtomicFileWriter(path);
  return {
    write(ids, vectors) {
      ids.forEach((id, i) => {
        const values = Array.from(vectors[i], float32ToShortest).join(',');
        out.write(`{"id":${JSON.stringify(id)},"embedding":[${values}]}\n`);
      });
    },
    commit: () => out.commit(),
    abort: () => out.abort(),
  };
}

/** A float32 [records, dim] array after `header`, rows in input order, ids in `<path>.ids.txt`. */
function arraySink(path: string, records: number, header: Uint8Array): EmbeddingSink {
  const out = new AtomicFileWriter(path);
  const idsOut = new AtomicFileWriter(`${path}.ids.txt`);
  out.write(header);
  let written = 0;
  return {
    write(ids, vectors) {
      ids.forEach((id, i) => {
        out.write(new Uint8Array(vectors[i].buffer, vectors[i].byteOffset, vectors[i].byteLength));
        idsOut.write(`${id}\n`);
      });
      written += ids.length;
    },
    commit() {
      if (written !== records) throw new Error(`internal: ${path}: wrote ${written} rows, the header says ${records}`);
      idsOut.commit();
      out.commit();
    },
    abort() {
      idsOut.abort();
      out.abort();
    },
  };
}

/** NumPy .npy format 1.0 header for a little-endian float32 C-order array. */
export function npyHeader(shape: readonly number[]): Uint8Array {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const unpadded = 10 + dict.length + 1;
  const text = dict + ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const header = new Uint8Array(10 + text.length);
  header.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(header.buffer).setUint16(8, text.length, true);
  header.set(Buffer.from(text, 'latin1'), 10);
  return header;
}
