/**
 * The page shared by report.html and the live dashboard: one self-contained
 * HTML document (assets/report/: the skeleton, its style and script; uPlot from
 * its npm package, inlined) with the data as JSON in the page. Its Content
 * Security Policy allows no request at all for a report, and only the page's own
 * server (the event stream) for the live dashboard.
 *
 * Large binary parts (the record index's columns) travel in their own
 * <script type="application/octet-stream" id="index-NAME"> elements as base64,
 * produced in pieces: the page is written as a sequence of chunks (pageChunks),
 * so that no string as large as the page is ever built.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MetricsSeries } from './metrics-series.js';
import type { RecordStats } from './records.js';
import type { Timeline } from './unit-events.js';

const ASSETS = fileURLToPath(new URL('../../assets/report/', import.meta.url));

export interface PageData {
  mode: 'report' | 'live';
  generatedAt: string;
  /** run.json as written by predict (report), or what is known when a live run starts. */
  run: Record<string, unknown> | null;
  records: Omit<RecordStats, 'notes'> | null;
  timeline: Timeline | null;
  metrics: MetricsSeries | null;
  notes: string[];
}

interface Assets {
  html: string;
  css: string;
  js: string;
  uplotJs: string;
  uplotCss: string;
}

let assets: Assets | undefined;

/** The page's parts, read once per process (they ship in assets/ and in the uplot dependency). */
function loadAssets(): Assets {
  if (assets) return assets;
  const require = createRequire(import.meta.url);
  const read = (path: string) => readFileSync(path, 'utf8');
  assets = {
    html: read(`${ASSETS}report.html`),
    css: read(`${ASSETS}report.css`),
    js: [`${ASSETS}chunk-spans.js`, `${ASSETS}model-files.js`, `${ASSETS}report.js`].map(read).join('\n'),
    uplotJs: read(require.resolve('uplot/dist/uPlot.iife.min.js')),
    uplotCss: read(require.resolve('uplot/dist/uPlot.min.css')),
  };
  return assets;
}

/** JSON that cannot end its <script> element or open a comment: `<` is written as \u003c. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** Inline <script>/<style> text must not contain its own end tag. */
function inline(text: string, tag: 'script' | 'style'): string {
  return text.replace(new RegExp(`</${tag}`, 'gi'), `<\\/${tag}`);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** Base64 of `bytes`, in pieces of whole 3-byte groups (so the pieces join into one valid base64 text). */
function* base64Pieces(bytes: Buffer): Generator<string> {
  const step = 3 << 18;
  for (let off = 0; off < bytes.byteLength; off += step) yield bytes.subarray(off, off + step).toString('base64');
}

/** The page, in order, as chunks to write one after the other; `blobs` become the index-NAME elements. */
export function* pageChunks(data: PageData, blobs: Record<string, Buffer> = {}): Generator<string> {
  const a = loadAssets();
  const connect = data.mode === 'live' ? "'self'" : "'none'";
  const csp = `default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src ${connect}; base-uri 'none'; form-action 'none'`;
  const input = (data.run?.input as { path?: string } | undefined)?.path;
  const title = `VirNucPro ${data.mode === 'live' ? 'live' : 'report'}${input ? `: ${basename(input)}` : ''}`;
  const parts: Record<string, string> = {
    CSP: csp,
    TITLE: escapeHtml(title),
    UPLOT_CSS: inline(a.uplotCss, 'style'),
    STYLE: inline(a.css, 'style'),
    DATA: jsonForScript(data),
    UPLOT_JS: inline(a.uplotJs, 'script'),
    SCRIPT: inline(a.js, 'script'),
  };
  // The skeleton's text alternates with placeholder names: a placeholder-like text inside an inserted part stays as it is.
  const pieces = a.html.split(/\{\{([A-Z_]+)\}\}/);
  for (let i = 0; i < pieces.length; i++) {
    if (i % 2 === 0) yield pieces[i];
    else if (pieces[i] === 'BLOBS') {
      for (const [name, bytes] of Object.entries(blobs)) {
        yield `<script type="application/octet-stream" id="index-${name}">`;
        yield* base64Pieces(bytes);
        yield '</script>\n';
      }
    } else yield parts[pieces[i]] ?? `{{${pieces[i]}}}`;
  }
}

/** The whole page as one string (the live dashboard's, which carries no blobs). */
export function renderPage(data: PageData): string {
  return [...pageChunks(data)].join('');
}
