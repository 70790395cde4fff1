/**
 * The few Python `str` semantics that decide FASTA ids, so they match
 * Biopython exactly: `str.rstrip()` and `str.split(None, 1)[0]` use Python's
 * notion of whitespace (`str.isspace`), which differs from JavaScript's `\s`
 * (Python counts U+001C..U+001F and U+0085; JavaScript counts U+FEFF).
 */

/** Code points for which Python's `str.isspace()` is true. */
const PY_WHITESPACE = new Set<number>([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680,
  0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
  0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

/** The same for code points below 256 as a table: FASTA headers are almost always ASCII, and this runs per character. */
const LATIN1_WHITESPACE = new Uint8Array(256);
for (const cp of PY_WHITESPACE) if (cp < 256) LATIN1_WHITESPACE[cp] = 1;

export function isPythonSpace(codePoint: number): boolean {
  return codePoint < 256 ? LATIN1_WHITESPACE[codePoint] === 1 : PY_WHITESPACE.has(codePoint);
}

/** `s.rstrip()` */
export function pythonRstrip(s: string): string {
  let end = s.length;
  while (end > 0 && isPythonSpace(s.charCodeAt(end - 1))) end--;
  return s.slice(0, end);
}

/** `s.split(None, 1)[0]`, or '' when `s` is only whitespace (Biopython's id for such a title). */
export function pythonFirstWord(s: string): string {
  let start = 0;
  while (start < s.length && isPythonSpace(s.charCodeAt(start))) start++;
  let end = start;
  while (end < s.length && !isPythonSpace(s.charCodeAt(end))) end++;
  return s.slice(start, end);
}
