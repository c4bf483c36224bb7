/**
 * The `--queue` URL: parsed and checked here, once, so that a typo is a one-line error and not an
 * ioredis reconnect loop. Also the queue name and the key prefix bopt uses in Redis.
 */
import type { QueueBaseOptions, RedisOptions } from 'bullmq';
import { BoptError } from '../errors.js';

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

/** Parse and validate a `--queue` URL; throws a BoptError with a one-line message naming the problem. */
export function parseQueueUrl(raw: string): QueueEndpoint {
  const fail = (why: string): never => {
    throw new BoptError(`--queue: ${why} in "${redact(raw)}"; expected ${QUEUE_URL_FORMS}`);
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
    throw new BoptError(`--queue-name: expected letters, digits, ".", "_" or "-" (at most 100), got "${name}"`);
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
 * Wait until `ready` resolves, or fail with a one-line error after `timeoutMs` naming the endpoint
 * and the last connection error seen (BullMQ and ioredis otherwise retry forever in silence).
 */
export async function readyOrFail(
  ready: Promise<unknown>,
  endpoint: QueueEndpoint,
  lastError: () => Error | null,
  timeoutMs: number,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const e = lastError();
      reject(new BoptError(`cannot reach Redis at ${endpoint.display}: ${e ? e.message : `no answer in ${timeoutMs} ms`}`));
    }, timeoutMs);
  });
  try {
    await Promise.race([ready, timeout]);
  } catch (e) {
    if (e instanceof BoptError) throw e;
    throw new BoptError(`cannot use Redis at ${endpoint.display}: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    clearTimeout(timer);
  }
}
