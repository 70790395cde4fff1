/**
 * A stand-in for the Hugging Face hub and raw.githubusercontent.com on
 * 127.0.0.1 (node:http, in the test process), serving fixture files with the
 * same URL shapes and headers, plus scripted misbehaviour (dropped
 * connections, 5xx, ignored Range, corrupted bodies).
 *
 *   /{org}/{repo}/resolve/{rev}/{file}   hub: small files served directly with a git-blob ETag;
 *                                        LFS files answered with a 302 carrying X-Linked-Etag (sha256)
 *   /cdn/{org}/{repo}/{file}             where LFS redirects point (honours Range)
 *   /{owner}/{repo}/{rev}/{file}         raw GitHub files (honours Range)
 */
import { before, after } from 'node:test';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fixture } from '../helpers.js';

export type Misbehaviour =
  | { kind: 'status'; status: number }
  /** Sends the headers for the whole file, then `bytes` bytes, then drops the connection. */
  | { kind: 'drop'; bytes: number }
  /** Answers a Range request with the whole file (200), as some servers and proxies do. */
  | { kind: 'ignore-range' }
  /** Serves the file with one byte changed. */
  | { kind: 'corrupt' };

export interface ServedFile {
  body: Buffer;
  /** Stored in git LFS on the hub: served through a redirect with a sha256 ETag. */
  lfs: boolean;
}

export interface SeenRequest {
  method: string;
  path: string;
  range?: string;
  authorization?: string;
}

export const HUB_COMMIT = '1234567890abcdef1234567890abcdef12345678';

export function gitBlobSha1(b: Buffer): string {
  return createHash('sha1').update(`blob ${b.byteLength}\0`).update(b).digest('hex');
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

export class FakeHub {
  readonly requests: SeenRequest[] = [];
  private readonly served: { key: string; range?: string }[] = [];
  /** Keyed by `{repo}/{file}`, e.g. `zhihan1996/DNABERT-S/config.json`. */
  readonly files = new Map<string, ServedFile>();
  private readonly plans = new Map<string, Misbehaviour[]>();
  private server?: http.Server;
  url = '';

  /** Queues misbehaviours for the next content requests of `key` (one per request). */
  plan(key: string, ...steps: Misbehaviour[]): void {
    this.plans.set(key, [...(this.plans.get(key) ?? []), ...steps]);
  }

  /** Content requests of `key` (not the hub's redirect hop), with the Range header each carried. */
  contentRequests(key: string): { range?: string }[] {
    return this.served.filter((r) => r.key === key);
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    this.requests.push({ method: req.method ?? 'GET', path, range: req.headers.range, authorization: req.headers.authorization });
    let m = /^\/(.+?\/.+?)\/resolve\/[^/]+\/(.+)$/.exec(path);
    if (m) {
      const key = `${m[1]}/${m[2]}`;
      const f = this.files.get(key);
      if (!f) return void res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end('Entry not found');
      if (f.lfs) {
        const sha = sha256(f.body);
        return void res
          .writeHead(302, {
            location: `/cdn/${key}`,
            'x-linked-etag': `"${sha}"`,
            'x-linked-size': String(f.body.byteLength),
            'x-repo-commit': HUB_COMMIT,
            etag: `"${sha}"`,
          })
          .end();
      }
      return this.serveContent(key, f, req, res, { etag: `"${gitBlobSha1(f.body)}"`, 'x-repo-commit': HUB_COMMIT });
    }
    m = /^\/cdn\/(.+)$/.exec(path);
    if (m) {
      const f = this.files.get(m[1]!);
      if (!f) return void res.writeHead(404).end();
      return this.serveContent(m[1]!, f, req, res, {});
    }
    m = /^\/([^/]+\/[^/]+)\/[^/]+\/(.+)$/.exec(path);
    if (m) {
      const key = `${m[1]}/${m[2]}`;
      const f = this.files.get(key);
      if (!f) return void res.writeHead(404).end('404: Not Found');
      return this.serveContent(key, f, req, res, {});
    }
    res.writeHead(404).end();
  }

  private serveContent(key: string, f: ServedFile, req: http.IncomingMessage, res: http.ServerResponse, extra: Record<string, string>): void {
    this.served.push({ key, range: req.headers.range });
    const step = this.plans.get(key)?.shift();
    let body = f.body;
    if (step?.kind === 'status') return void res.writeHead(step.status).end(`scripted ${step.status}`);
    if (step?.kind === 'corrupt') {
      body = Buffer.from(body);
      body[body.length >> 1] ^= 0xff;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    let start = 0;
    if (range && step?.kind !== 'ignore-range') {
      start = Number(range[1]);
      if (start >= body.byteLength) return void res.writeHead(416, { 'content-range': `bytes */${body.byteLength}` }).end();
      res.writeHead(206, {
        ...extra,
        'content-length': String(body.byteLength - start),
        'content-range': `bytes ${start}-${body.byteLength - 1}/${body.byteLength}`,
        'accept-ranges': 'bytes',
      });
    } else {
      res.writeHead(200, { ...extra, 'content-length': String(body.byteLength), 'accept-ranges': 'bytes' });
    }
    if (step?.kind === 'drop') {
      res.write(body.subarray(start, start + step.bytes), () => {
        // Let the bytes leave before cutting the connection, as a real network failure would.
        setTimeout(() => req.socket.destroy(), 20);
      });
      return;
    }
    res.end(body.subarray(start));
  }
}

/** The fixtures the fake hub serves, under the real repositories' names. */
export function serveFixtures(hub: FakeHub): void {
  const add = (key: string, rel: string, lfs: boolean) => hub.files.set(key, { body: readFileSync(fixture(rel)), lfs });
  add('facebook/esm2_t36_3B_UR50D/config.json', 'esm2/hf/config.json', false);
  add('facebook/esm2_t36_3B_UR50D/vocab.txt', 'esm2/hf/vocab.txt', false);
  add('facebook/esm2_t36_3B_UR50D/model.safetensors', 'esm2/hf/model.safetensors', true);
  // DNABERT-S is served without model.safetensors, so the fetch falls back to pytorch_model.bin.
  add('zhihan1996/DNABERT-S/config.json', 'dnabert-s/model/config.json', false);
  add('zhihan1996/DNABERT-S/tokenizer.json', 'dnabert-s/model/tokenizer.json', false);
  add('zhihan1996/DNABERT-S/pytorch_model.bin', 'dnabert-s/model/pytorch_model.bin', true);
  add('Li-Jing-1997/VirNucPro/300_model.pth', 'mlp/mlp_state_dict.pth', false);
  add('Li-Jing-1997/VirNucPro/500_model.pth', 'mlp/mlp_full_module.pth', false);
}

/** A fake hub serving the fixtures for the whole test file: started before its tests, stopped after. */
export function fixtureHubForFile(): FakeHub {
  const hub = new FakeHub();
  before(async () => {
    serveFixtures(hub);
    await hub.start();
  });
  after(() => hub.stop());
  return hub;
}
