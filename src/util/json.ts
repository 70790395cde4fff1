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
