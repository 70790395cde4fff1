/**
 * The command line as it may be recorded (run.json) or shown: every argument
 * that is a URL with a password, alone or as the value of `--flag=URL`, has
 * its password replaced by `***` (`redis://user:pass@host` becomes
 * `redis://user:***@host`); the rest of the text is kept as typed.
 *
 * Public API: `redactCommandLine(argv): string[]`, `redactUrlPassword(arg): string`.
 */

/** `scheme://` then the authority's user information up to its last `@`. */
const USERINFO = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)([^/?#]*)@/;

function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text;
  }
  if (url.password === '') return text;
  const m = USERINFO.exec(text);
  if (!m) return text;
  const colon = m[2].indexOf(':');
  if (colon < 0) return text;
  return `${m[1]}${m[2].slice(0, colon)}:***@${text.slice(m[0].length)}`;
}

/** One argument with a URL password hidden: `URL` or `--flag=URL`. */
export function redactUrlPassword(arg: string): string {
  const eq = arg.startsWith('-') ? arg.indexOf('=') : -1;
  return eq < 0 ? redactUrl(arg) : `${arg.slice(0, eq + 1)}${redactUrl(arg.slice(eq + 1))}`;
}

export function redactCommandLine(argv: readonly string[]): string[] {
  return argv.map(redactUrlPassword);
}
