/**
 * Real parts for the queue-mode tests: a redis-server on a free loopback port
 * with no persistence (stopped when the test process exits), CLI processes
 * (`predict`, `worker`) whose stderr a test can wait on, and a look at what a
 * run left in Redis.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { PREFIX, RUNS_KEY } from '../../src/cluster/queue-names.js';
import { repoRoot } from '../helpers.js';

export const REDIS_SERVER = '/usr/bin/redis-server';

/** Every process a test started, killed when the test process exits (however the test ended). */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Why the cluster tests cannot run here, or null when they can. */
export function redisMissing(): string | null {
  const r = spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? null : `redis-server not found at ${REDIS_SERVER} (apt-get install redis-server); the queue-mode tests are skipped`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

export class RedisServer {
  private child: ChildProcess | null = null;
  private constructor(
    readonly port: number,
    private readonly password?: string,
  ) {}

  static async start(options: { password?: string } = {}): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), options.password);
    await server.launch();
    return server;
  }

  /** redis://[:password@]127.0.0.1:port/0 (password: override, or '' for none). */
  url(password: string | undefined = this.password): string {
    return `redis://${password ? `:${password}@` : ''}127.0.0.1:${this.port}/0`;
  }

  private async launch(): Promise<void> {
    const args = ['--save', '', '--appendonly', 'no', '--port', String(this.port), '--bind', '127.0.0.1', ...(this.password ? ['--requirepass', this.password] : [])];
    const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    children.add(child);
    child.once('exit', () => children.delete(child));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
    });
  }

  /** Kills the server (nothing is saved) and starts an empty one on the same port. */
  async restartEmpty(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}

const CLI = join(repoRoot, 'src/cli/main.ts');

/** A CLI process whose stderr is collected and can be waited on. */
export class CliProcess {
  readonly child: ChildProcess;
  stderr = '';
  stdout = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  private watchers: Array<{ pattern: RegExp | string; count: number; resolve: () => void }> = [];

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(this.child);
    this.child.once('exit', () => children.delete(this.child));
    this.child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      this.watchers = this.watchers.filter((w) => {
        if (this.count(w.pattern) < w.count) return true;
        w.resolve();
        return false;
      });
    });
    this.exited = new Promise((resolve) => this.child.on('close', (code, signal) => resolve({ code, signal, stderr: this.stderr })));
  }

  private count(pattern: RegExp | string): number {
    if (typeof pattern === 'string') return this.stderr.split(pattern).length - 1;
    return (this.stderr.match(new RegExp(pattern.source, 'g')) ?? []).length;
  }

  /** Resolves once stderr holds `count` matches of the pattern; rejects if the process exits first. */
  waitFor(pattern: RegExp | string, count = 1): Promise<void> {
    if (this.count(pattern) >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.watchers.push({ pattern, count, resolve });
      void this.exited.then(() => {
        if (this.count(pattern) < count) reject(new Error(`process exited before printing ${pattern} (x${count}):\n${this.stderr}`));
      });
    });
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

/** Starts `virnucpro worker` and waits until it serves. */
export async function startWorker(url: string, name: string, models: string[], options: { env?: Record<string, string>; extra?: string[] } = {}): Promise<CliProcess> {
  const w = new CliProcess(['worker', '--queue', url, ...models, '--devices', 'cpu', '--name', name, '--lock-timeout', '2', '-t', '1', ...(options.extra ?? [])], options.env);
  await w.waitFor('serving models');
  return w;
}

/** Stops a worker with SIGTERM (graceful) and waits for it to exit. */
export async function stopWorker(w: CliProcess): Promise<void> {
  w.kill('SIGTERM');
  await w.exited;
}

/** The id of the run whose units this worker took (its log says `run <id> unit <n> started`). */
export function runIdFromLog(worker: CliProcess): string {
  const m = / run (\w+) unit \d+ started/.exec(worker.stderr);
  if (!m) throw new Error(`the worker took no unit:\n${worker.stderr}`);
  return m[1];
}

/**
 * What is in Redis under our prefix: `ofRun`, everything that names the run (keys with its id, entries of a
 * queue's event stream about its jobs, its registration), and `queueKeys`, the other keys of the queues
 * (the part after `virnucpro:models-<hash>:`).
 */
export async function redisContents(url: string, runId: string): Promise<{ ofRun: string[]; queueKeys: string[] }> {
  const redis = new Redis(url);
  try {
    const keys = await redis.keys(`${PREFIX}:*`);
    const ofRun = keys.filter((k) => k.includes(runId));
    const queueKeys: string[] = [];
    for (const key of keys.filter((k) => k.startsWith(`${PREFIX}:models-`) && !k.includes(runId))) {
      queueKeys.push(key.split(':').slice(2).join(':'));
      if (key.endsWith(':events')) {
        for (const [id, fields] of await redis.xrange(key, '-', '+')) {
          if (fields.some((f) => f.startsWith(`${runId}-`))) ofRun.push(`${key} ${id}: ${fields.join(' ').slice(0, 80)}`);
        }
      }
    }
    if (await redis.hexists(RUNS_KEY, runId)) ofRun.push(`${RUNS_KEY} ${runId}`);
    return { ofRun, queueKeys: queueKeys.sort() };
  } finally {
    redis.disconnect();
  }
}
