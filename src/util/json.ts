import { readFile } from 'node:fs/promises';
import { InputError } from './errors.js';

/**
 * JSON syntax errors that never quote the text. V8's messages quote the start
 * of the input ("Unexpected token 'r', "root:x:0:0"... is not valid JSON"),
 * and the input may be any file a path or a symbolic link led to, so an error
 * message built from them could print a secret.
 */

/** What is wrong with text that JSON.parse refused (`e`), without any of the text. */
export function jsonSyntaxProblem(e: unknown): string {
  const message = e instanceof Error ? e.message : '';
  const at = /at position (\d+)/.exec(message);
  if (at) return `invalid JSON at character ${at[1]}`;
  if (/Unexpected end of JSON input/.test(message)) return 'invalid JSON (the text ends early)';
  return 'invalid JSON';
}

/** Reads a JSON object from `path` (`what` names it in messages: 'config.json', 'tokenizer.json'). */
export async function readJsonObject(path: string, what: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new InputError(`${path}: cannot read ${what}: ${(e as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${path}: ${what} is not valid JSON (${jsonSyntaxProblem(e)})`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new InputError(`${path}: ${what} is not a JSON object`);
  return v as Record<string, unknown>;
}
