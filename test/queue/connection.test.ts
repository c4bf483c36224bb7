import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OptionError } from '../../src/errors.js';
import { checkQueueName, parseQueueUrl } from '../../src/queue/connection.js';
import { decodeNonFinite, encodeNonFinite, versionRefusal } from '../../src/queue/protocol.js';

test('queue URLs: host, port, db, credentials and TLS; the password never shown', () => {
  const a = parseQueueUrl('redis://127.0.0.1:6390/2');
  assert.deepEqual(a.redis, { host: '127.0.0.1', port: 6390, db: 2, maxRetriesPerRequest: null });
  assert.equal(a.display, 'redis://127.0.0.1:6390/2');
  const b = parseQueueUrl('rediss://bopt:s%40cret@redis.example.org');
  assert.equal(b.redis.port, 6379);
  assert.equal(b.redis.db, 0);
  assert.equal(b.redis.username, 'bopt');
  assert.equal(b.redis.password, 's@cret');
  assert.deepEqual(b.redis.tls, { servername: 'redis.example.org' });
  assert.equal(b.display, 'rediss://bopt:***@redis.example.org:6379/0');
  assert.equal(parseQueueUrl('redis://:pw@[::1]:7000').display, 'redis://:***@[::1]:7000/0');
  assert.equal(parseQueueUrl('redis://[::1]:7000').redis.host, '::1');
});

test('bad queue URLs are one-line errors naming the problem, without the password', () => {
  const cases: [string, RegExp][] = [
    ['localhost:6379', /unsupported scheme "localhost"|not a URL/],
    ['http://h:1', /unsupported scheme "http"/],
    ['redis://h:99999', /not a URL|bad port/],
    ['redis://h:1/x', /bad database "\/x"/],
    ['redis://h:1/0?x=1', /unexpected query/],
    ['redis://', /missing host|not a URL/],
  ];
  for (const [url, re] of cases) {
    assert.throws(
      () => parseQueueUrl(url),
      (e: unknown) =>
        e instanceof OptionError && e.option === 'queueUrl' && re.test(e.message) && !e.message.includes('\n'),
      url,
    );
  }
  assert.throws(
    () => parseQueueUrl('http://u:topsecret@h'),
    (e: Error) => !e.message.includes('topsecret'),
  );
  assert.throws(
    () => checkQueueName('a b'),
    (e: unknown) => e instanceof OptionError && e.option === 'queueName',
  );
  assert.equal(checkQueueName('sweep-1.a_b'), 'sweep-1.a_b');
});

test('version refusal names both sides; matching versions pass', () => {
  const job = { key: 'k', attempt: 0, params: { engine: 'reference' } } as never;
  const local = { boptVersion: '1.0.0', engineVersions: { reference: 'reference-1' } };
  const data = { format: 1 as const, job, boptVersion: '1.0.0', engineVersion: 'reference-1', sweep: 's', origin: 'o' };
  assert.equal(versionRefusal(data, local, 'w:1'), null);
  const msg = versionRefusal({ ...data, boptVersion: '0.9.0' }, local, 'w:1');
  assert.match(
    msg!,
    /coordinator runs bopt 0\.9\.0 with engine reference reference-1, worker w:1 runs bopt 1\.0\.0 with engine reference reference-1/,
  );
  assert.match(versionRefusal({ ...data, engineVersion: 'reference-2' }, local, 'w:1')!, /reference-2.*reference-1/);
  assert.match(versionRefusal({ format: 2 } as never, local, 'w:1')!, /unknown job format 2/);
});

test('non-finite numbers survive the JSON of a job result', () => {
  const value = { a: Number.NaN, b: [1, Number.POSITIVE_INFINITY, { c: Number.NEGATIVE_INFINITY }], d: 'NaN', e: null };
  const back = decodeNonFinite(JSON.parse(JSON.stringify(encodeNonFinite(value))));
  assert.deepEqual(back, value);
});
