/**
 * A small read-only HTTP server (node:http) for the live dashboard: `/` is the
 * page, `/events` a server-sent event stream that starts with the current
 * state and then carries every update, `/state.json` the current state. GET
 * and HEAD only (anything else is 405). Bound to loopback unless the caller
 * asks for another address; on loopback, requests naming another host are
 * refused (a web page elsewhere cannot reach it through DNS rebinding).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ResourceError, UsageError } from '../util/errors.js';

export const LOOPBACK = '127.0.0.1';

/** Seconds between comment lines that keep an idle event stream open through proxies. */
const KEEPALIVE_MS = 15_000;

export interface EventServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** The page, rendered on each request (it embeds the state of the moment). */
  page: () => string;
  /** What a new event stream (and /state.json) starts with. */
  state: () => unknown;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** The host part of a Host header (`name:port`, `[v6]:port`). */
function hostName(header: string | undefined): string {
  if (!header) return '';
  if (header.startsWith('[')) return header.slice(0, header.indexOf(']') + 1);
  return header.split(':')[0];
}

export class EventServer {
  private readonly clients = new Set<ServerResponse>();
  private keepalive: NodeJS.Timeout | undefined;

  private constructor(
    private readonly server: Server,
    private readonly options: EventServerOptions,
    readonly url: string,
  ) {}

  /** Listens, or refuses with the address and the fix (port in use: exit 4; an address not of this machine: exit 2). */
  static async start(options: EventServerOptions): Promise<EventServer> {
    let self: EventServer | undefined;
    const server = createServer((req, res) => self?.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((e: NodeJS.ErrnoException) => {
      const where = `${options.host}:${options.port}`;
      if (e.code === 'EADDRINUSE') {
        throw new ResourceError(`--dashboard-port ${options.port}: ${where} is already in use`, { hint: 'choose another port, or --dashboard-port 0 to pick a free one' });
      }
      if (e.code === 'EACCES') {
        throw new UsageError(`--dashboard-port ${options.port}: not allowed to listen on ${where} (ports below 1024 need privileges)`, { hint: 'choose a port from 1024 up, or 0 to pick a free one' });
      }
      throw new UsageError(`--dashboard-host ${options.host}: cannot listen on ${where} (${e.code ?? e.message})`, {
        hint: `give an address of this machine (default ${LOOPBACK})`,
      });
    });
    server.unref();
    const address = server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    self = new EventServer(server, options, `http://${host}:${address.port}/`);
    self.keepalive = setInterval(() => self!.write(': keepalive\n\n'), KEEPALIVE_MS);
    self.keepalive.unref();
    return self;
  }

  /** Sends one event to every connected stream. */
  broadcast(event: string, data: unknown): void {
    this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Ends every stream and stops listening. */
  async close(): Promise<void> {
    clearInterval(this.keepalive);
    for (const c of this.clients) c.end();
    this.clients.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private write(text: string): void {
    for (const c of this.clients) c.write(text);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('read-only: GET and HEAD only\n');
      return;
    }
    if (isLoopback(this.options.host) && !isLoopback(hostName(req.headers.host))) {
      res.writeHead(421, { 'Content-Type': 'text/plain; charset=utf-8' }).end('this dashboard answers on its loopback address only\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(req.method === 'HEAD' ? undefined : this.options.page());
    } else if (path === '/state.json') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(req.method === 'HEAD' ? undefined : JSON.stringify(this.options.state()));
    } else if (path === '/events') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', Connection: 'keep-alive' });
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      res.write(`retry: 2000\n\nevent: state\ndata: ${JSON.stringify(this.options.state())}\n\n`);
      this.clients.add(res);
      req.on('close', () => this.clients.delete(res));
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found: the dashboard serves / and /events\n');
    }
  }
}
