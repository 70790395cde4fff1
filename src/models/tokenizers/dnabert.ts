/**
 * DNABERT-S tokenizer, read from the model directory's `tokenizer.json`.
 *
 * Uses `@huggingface/tokenizers` (pure JavaScript, synchronous). It gives the
 * same ids as Hugging Face's Rust `tokenizers` (which made the fixture ids) on
 * every fixture text and on thousands of random texts (see
 * test/models/tokenizers-dnabert.test.ts), and keeps `encode` synchronous,
 * which the Rust binding's Promise-only `encode` cannot.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { InputError } from '../../util/errors.js';

export interface DnaTokenizer {
  /** The tokenizer.json it was read from. */
  readonly path: string;
  readonly vocabSize: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly unkId: number;
  /** `[CLS]` + BPE tokens + `[SEP]`, as `tokenizer(seq)` gives `input_ids` in Python. */
  encode(seq: string): Int32Array;
}

async function readJson(path: string, what: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new InputError(`${path}: cannot read ${what}: ${(e as Error).message}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new InputError(`${path}: ${what} is not valid JSON: ${(e as Error).message}`);
  }
}

/** Reads `tokenizer.json` (and `tokenizer_config.json` next to it, when present). */
export async function loadDnaTokenizer(tokenizerJsonPath: string): Promise<DnaTokenizer> {
  const json = await readJson(tokenizerJsonPath, 'tokenizer.json');
  const model = json.model as { type?: string; vocab?: Record<string, number> } | undefined;
  if (!model || typeof model.vocab !== 'object') {
    throw new InputError(`${tokenizerJsonPath}: tokenizer.json has no model vocabulary`);
  }
  const configPath = join(dirname(tokenizerJsonPath), 'tokenizer_config.json');
  const config = await readJson(configPath, 'tokenizer_config.json').catch(() => ({}));
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json as never, config as never);
  } catch (e) {
    throw new InputError(`${tokenizerJsonPath}: unsupported tokenizer.json: ${(e as Error).message}`);
  }
  const vocab = model.vocab;
  const idOf = (t: string): number => {
    const added = (json.added_tokens as Array<{ content: string; id: number }> | undefined)?.find((a) => a.content === t);
    const id = added?.id ?? vocab[t];
    if (typeof id !== 'number') throw new InputError(`${tokenizerJsonPath}: tokenizer has no ${t} token`);
    return id;
  };
  const clsId = idOf('[CLS]');
  const sepId = idOf('[SEP]');
  const unkId = idOf('[UNK]');
  const vocabSize = Math.max(
    Object.keys(vocab).length,
    ...((json.added_tokens as Array<{ id: number }> | undefined) ?? []).map((a) => a.id + 1),
  );
  return {
    path: tokenizerJsonPath,
    vocabSize,
    clsId,
    sepId,
    unkId,
    encode(seq: string): Int32Array {
      return Int32Array.from(tok.encode(seq).ids);
    },
  };
}
