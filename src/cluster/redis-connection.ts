/**
 * The Redis a queue runs on: its URL (`redis://[user:pass@]host:port/db`, or
 * `rediss://` for TLS), the form of it that may be shown (password replaced by
 * `***`: the only form that ever reaches a log, an error or run.json), and the
 * connections BullMQ and the registry use. Connection problems are checked
 * once, up front, and turned into errors a user can act on: a refused
 * password is exit code 2, an unreachable server exit code 4.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { ResourceError, UsageError } from '../util/errors.js';

export interface QueueUrl {
  /** The URL as given, password included: for connecting only, never for showing. */
  readonly secret: string;
  /** `redis://user:***@host:port/db`: safe to print and record. */
  readonly shown: string;
}

/** Parses a --queue value; refuses anything but redis:// and rediss:// (exit code 2). */
export function parseQueueUrl(text: string): QueueUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--queue: '${redactText(text)}' is not a URL`, { hint: 'give redis://[user:password@]host:port/db, or rediss://... for TLS' });
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    // Not ours to parse (`user:pass@host` reads as the scheme `user:`): hide the password in the text as given.
    throw new UsageError(`--queue: '${redactText(text)}' is not a redis:// or rediss:// URL`, { hint: 'give redis://[user:password@]host:port/db, or rediss://... for TLS' });
  }
  const db = url.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw new UsageError(`--queue: ${redactUrl(url)}: the database must be a number, got '${db}'`);
  return { secret: text, shown: redactUrl(url) };
}

function redactUrl(url: URL): string {
  const shown = new URL(url.href);
  if (shown.password !== '') shown.password = '***';
  return shown.href.replace(/\/$/, '');
}

/** Best effort for text that is not even a URL: hide whatever sits between `:` and `@`. */
function redactText(text: string): string {
  return text.replace(/:[^:@/]*@/, ':***@');
}

/** Options every connection of ours shares: BullMQ's blocking commands need maxRetriesPerRequest null. */
export function connectionOptions(extra: RedisOptions = {}): RedisOptions {
  return { maxRetriesPerRequest: null, ...extra };
}

/** A connection for BullMQ (Queue, Worker, QueueEvents): reconnects forever, errors go to `onError`. */
export function openConnection(url: QueueUrl, onError: (message: string) => void): Redis {
  const redis = new Redis(url.secret, connectionOptions());
  redis.on('error', (e: Error) => onError(e.message));
  return redis;
}

/**
 * Connects once and pings, without retrying, so a wrong URL or password is reported at once
 * and clearly instead of as an endless reconnect loop.
 */
export async function checkRedis(url: QueueUrl, timeoutMs = 5000): Promise<void> {
  const redis = new Redis(url.secret, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, connectTimeout: timeoutMs });
  let lastError = '';
  redis.on('error', (e: Error) => {
    lastError = e.message;
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (e) {
    const why = lastError || (e as Error).message;
    if (/WRONGPASS|NOAUTH|invalid password|invalid username/i.test(why)) {
      throw new UsageError(`Redis at ${url.shown} refused the connection: ${/NOAUTH/.test(why) ? 'it requires a password' : 'wrong user name or password'}`, {
        hint: 'give the password in the URL, redis://:PASSWORD@host:port/db (or redis://USER:PASSWORD@... with ACL users)',
      });
    }
    throw new ResourceError(`cannot reach Redis at ${url.shown} (${redactText(why)})`, {
      hint: 'start redis-server there, or check the host, port and firewall (rediss:// for a server that expects TLS)',
    });
  } finally {
    redis.disconnect();
  }
}
