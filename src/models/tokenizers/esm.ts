/**
 * The fair-esm "ESM-1b" alphabet that ESM-2 uses (33 tokens), and the
 * encoding fair-esm's batch converter applies to one protein:
 * `<cls>` + one token per residue + `<eos>`, no truncation.
 *
 * Unknown characters: fair-esm's `Alphabet.encode` looks every token up with
 * `tok_to_idx[tok]` and raises KeyError, so a sequence with a character
 * outside the alphabet (lowercase letters, `*`, digits...) is an error there
 * and here (InputError naming the character). Whitespace between tokens is
 * dropped, and special tokens written out (`<mask>`, `<unk>`...) are read as
 * one token each, as fair-esm's `tokenize` does.
 */
import { InputError } from '../../util/errors.js';

/** `Alphabet.from_architecture("ESM-1b").all_toks`, in index order. */
export const ESM_ALPHABET: readonly string[] = Object.freeze([
  '<cls>', '<pad>', '<eos>', '<unk>',
  'L', 'A', 'G', 'V', 'S', 'E', 'R', 'T', 'I', 'D', 'P', 'K', 'Q', 'N', 'F', 'Y', 'M', 'H', 'W', 'C', 'X', 'B', 'U', 'Z', 'O', '.', '-',
  '<null_1>', '<mask>',
]);

export const ESM_CLS_IDX = 0;
export const ESM_PAD_IDX = 1;
export const ESM_EOS_IDX = 2;
export const ESM_UNK_IDX = 3;
export const ESM_MASK_IDX = 32;
export const ESM_VOCAB_SIZE = ESM_ALPHABET.length;

const TOKEN_TO_IDX = new Map(ESM_ALPHABET.map((t, i) => [t, i]));
const SPECIAL_TOKENS = ESM_ALPHABET.filter((t) => t.startsWith('<'));
/** Residue character code -> index, -1 when not in the alphabet. */
const RESIDUE_IDX = new Int32Array(128).fill(-1);
for (const [t, i] of TOKEN_TO_IDX) if (t.length === 1) RESIDUE_IDX[t.charCodeAt(0)] = i;

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/**
 * Token ids for one protein as fair-esm's batch converter makes them
 * (before padding). `label` names the sequence in errors.
 */
export function encodeProtein(seq: string, label?: string): Int32Array {
  const out = new Int32Array(seq.length + 2);
  let n = 0;
  out[n++] = ESM_CLS_IDX;
  for (let i = 0; i < seq.length; ) {
    const c = seq.charCodeAt(i);
    const idx = c < 128 ? RESIDUE_IDX[c] : -1;
    if (idx >= 0) {
      out[n++] = idx;
      i++;
      continue;
    }
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c === 0x3c /* < */) {
      const special = SPECIAL_TOKENS.find((t) => seq.startsWith(t, i));
      if (special) {
        out[n++] = TOKEN_TO_IDX.get(special)!;
        i += special.length;
        continue;
      }
    }
    const ch = String.fromCodePoint(seq.codePointAt(i)!);
    throw new InputError(
      `${label ? `protein '${label}'` : 'protein'}: character ${JSON.stringify(ch)} at position ${i + 1} is not in the ESM-2 alphabet`,
      { hint: 'ESM-2 reads upper-case one-letter amino-acid codes (fair-esm raises KeyError on anything else).' },
    );
  }
  out[n++] = ESM_EOS_IDX;
  return out.slice(0, n);
}
