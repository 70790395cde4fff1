/**
 * DNABERT-S tokenizer, read from the model directory's `tokenizer.json`.
 *
 * Uses `@huggingface/tokenizers` (pure JavaScript, synchronous). It gives the
 * same ids as Hugging Face's Rust `tokenizers` (which made the fixture ids) on
 * every fixture text and on thousands of random texts (see
 * test/models/tokenizers-dnabert.test.ts), and keeps `encode` synchronous,
 * which the Rust binding's Promise-only `encode` cannot.
 *
 * The file is the user's, and it is copied into bundles and the graph cache:
 * a symbolic link is followed only to a file inside the model directory or to
 * a Hugging Face cache blob (how HF snapshots and `models fetch` link files), so
 * a link to an arbitrary file (/etc/passwd, a key) is refused before it is read.
 * Messages never quote the file's text.
 */
import { lstat, realpath, stat } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { InputError } from '../../util/errors.js';
import { readJsonObject } from '../../util/json.js';

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


/** A Hugging Face cache blob: `.../models--<org>--<name>/blobs/<hash>`, where HF snapshots' links point. */
const HF_BLOB = /[\\/]models--[^\\/]+[\\/]blobs[\\/][0-9a-f]{40,64}$/;

/**
 * Refuses a tokenizer.json that is not a regular file, or a symbolic link that leads outside its model
 * directory (other than into a Hugging Face cache's blobs), before anything reads it.
 */
export async function checkTokenizerFile(path: string): Promise<void> {
  let isLink: boolean;
  try {
    isLink = (await lstat(path)).isSymbolicLink();
    if (!(await stat(path)).isFile()) throw new InputError(`${path}: tokenizer.json is not a regular file`);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${path}: cannot read tokenizer.json: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!isLink) return;
  const target = await realpath(path);
  const modelDir = await realpath(dirname(path));
  if (target.startsWith(modelDir + sep) || HF_BLOB.test(target)) return;
  throw new InputError(`${path}: tokenizer.json is a symbolic link to ${target}, outside the model directory ${dirname(path)}`, {
    hint: 'copy the tokenizer.json into the model directory (links are followed only within it or into a Hugging Face cache)',
  });
}

/** Reads `tokenizer.json` (and `tokenizer_config.json` next to it, when present). */
export async function loadDnaTokenizer(tokenizerJsonPath: string): Promise<DnaTokenizer> {
  await checkTokenizerFile(tokenizerJsonPath);
  const json = await readJsonObject(tokenizerJsonPath, 'tokenizer.json');
  const model = json.model as { type?: string; vocab?: Record<string, number> } | undefined;
  if (!model || typeof model.vocab !== 'object') {
    throw new InputError(`${tokenizerJsonPath}: tokenizer.json has no model vocabulary`);
  }
  const configPath = join(dirname(tokenizerJsonPath), 'tokenizer_config.json');
  const config = await readJsonObject(configPath, 'tokenizer_config.json').catch(() => ({}));
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json as never, config as never);
  } catch (e) {
    // The library's message names the unsupported part (a normalizer type...); keep it to one short line.
    const why = String((e as Error).message).replace(/\s+/g, ' ').slice(0, 120);
    throw new InputError(`${tokenizerJsonPath}: unsupported tokenizer.json: ${why}`);
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
