/**
 * The `--queue` URL: parsed and checked here, once, so that a typo is a one-line error and not an
 * ioredis reconnect loop. Also the queue name and the key prefix bopt uses in Redis.
 */
import type { QueueBaseOptions, RedisOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { OptionError, QueueError } from '../errors.js';

export const QUEUE_URL_FORMS = 'redis://[user:pass@]host:port[/db] or rediss://... (TLS)';

/** Every bopt key in Redis starts with this, so bopt never touches another BullMQ application's jobs. */
export const QUEUE_PREFIX = 'bopt';
/** Default queue name: one queue per Redis database unless `--queue-name` says otherwise. */
export const DEFAULT_QUEUE_NAME = 'sweeps';

export interface QueueEndpoint {
  /** ioredis options for BullMQ (host, port, db, credentials, TLS). */
  redis: RedisOptions;
  /** The URL without its password, for headers and logs. */
  display: string;
}

/** Parse and validate a `--queue` URL; throws an OptionError with a one-line message naming the problem. */
export function parseQueueUrl(raw: string): QueueEndpoint {
  const fail = (why: string): never => {
    throw new OptionError('queueUrl', `${why} in "${redact(raw)}"; expected ${QUEUE_URL_FORMS}`);
  };
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return fail('not a URL');
  }
  const tls = url.protocol === 'rediss:';
  if (url.protocol !== 'redis:' && !tls) fail(`unsupported scheme "${url.protocol.replace(/:$/, '')}"`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) fail('missing host');
  const port = url.port === '' ? 6379 : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`bad port "${url.port}"`);
  const path = url.pathname.replace(/^\//, '');
  let db = 0;
  if (path !== '') {
    if (!/^\d+$/.test(path)) fail(`bad database "/${path}" (a number such as /0)`);
    db = Number(path);
  }
  if (url.search || url.hash) fail('unexpected query or fragment');
  const redis: RedisOptions = {
    host,
    port,
    db,
    // BullMQ's workers block on Redis: commands must wait through a reconnect, never give up.
    maxRetriesPerRequest: null,
  };
  if (url.username) redis.username = decodeURIComponent(url.username);
  if (url.password) redis.password = decodeURIComponent(url.password);
  if (tls) redis.tls = { servername: host };
  const auth = url.username ? `${url.username}${url.password ? ':***' : ''}@` : url.password ? ':***@' : '';
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return { redis, display: `${tls ? 'rediss' : 'redis'}://${auth}${hostPart}:${port}/${db}` };
}

/** A queue name usable in Redis keys and on the command line. */
export function checkQueueName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(name)) {
    throw new OptionError('queueName', `expected letters, digits, ".", "_" or "-" (at most 100), got "${name}"`);
  }
  return name;
}

/** Options shared by every BullMQ object bopt creates for one endpoint. */
export function bullmqOptions(endpoint: QueueEndpoint): QueueBaseOptions {
  return { connection: { ...endpoint.redis }, prefix: QUEUE_PREFIX };
}

/** The URL with any password replaced, for error messages. */
function redact(raw: string): string {
  return raw.replace(/(\/\/[^/@:]*:)[^@/]*@/, '$1***@');
}

/**
 * One connection that does not retry: PING, then quit. A refused connection, an unknown host or a bad
 * password is a one-line QueueError at once. (Done before any BullMQ object exists, because closing a
 * BullMQ connection that never connected leaves an unhandled rejection behind in BullMQ 5.)
 */
export async function preflight(endpoint: QueueEndpoint, timeoutMs: number): Promise<void> {
  const client = new Redis({
    ...endpoint.redis,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  let last: Error | null = null;
  client.on('error', (e: Error) => (last = e));
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    const err = last ?? (e as Error);
    throw new QueueError(
      `cannot reach Redis at ${endpoint.display}: ${err.message || (err as NodeJS.ErrnoException).code || 'connection failed'}`,
    );
  } finally {
    client.disconnect();
  }
}

/** Connection errors that will not go away by retrying a few seconds: fail at once on them. */
const DEFINITIVE =
  /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|WRONGPASS|NOAUTH|NOPERM|invalid password|certificate/i;

/**
 * Watches the 'error' events of BullMQ objects while they connect: ready() resolves when `ready`
 * does, or fails with a one-line error naming the endpoint on a definitive error (connection refused,
 * unknown host, bad password) or after `timeoutMs` (BullMQ and ioredis otherwise retry forever).
 */
export class ConnectWatch {
  private last: Error | null = null;
  private fail: ((e: Error) => void) | null = null;

  constructor(private readonly endpoint: QueueEndpoint) {}

  /** Give every error event here; returns whether it happened while connecting. */
  note(e: Error): boolean {
    this.last = e;
    if (!this.fail) return false;
    if (DEFINITIVE.test(`${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`)) this.fail(this.error());
    return true;
  }

  async ready(ready: Promise<unknown>, timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const failed = new Promise<never>((_, reject) => {
      this.fail = reject;
      timer = setTimeout(() => reject(this.error(`no answer in ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([ready, failed]);
    } catch (e) {
      if (e instanceof QueueError) throw e;
      throw new QueueError(
        `cannot use Redis at ${this.endpoint.display}: ${e instanceof Error ? e.message : String(e)}`,
      );
    } finally {
      this.fail = null;
      clearTimeout(timer);
    }
  }

  private error(fallback = 'connection failed'): QueueError {
    const why = this.last ? this.last.message || (this.last as NodeJS.ErrnoException).code || fallback : fallback;
    return new QueueError(`cannot reach Redis at ${this.endpoint.display}: ${why}`);
  }
}
