/**
 * An idle `bopt worker` whose Redis went away still stops on SIGTERM: BullMQ's close waits for Redis,
 * so the worker drops its connections after a grace period instead of waiting forever. The outage is
 * simulated by killing the test's redis-server (a few seconds is enough: the old code never exited).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { boptAsync, exited } from '../helpers/cli.js';
import { redisAvailable, startRedis } from '../helpers/redis.js';

const skip =
  redisAvailable() || process.env.CI ? false : 'redis-server is not installed (apt-get install -y redis-server)';

test('an idle worker exits 0 on SIGTERM during a Redis outage', { skip, timeout: 150_000 }, async () => {
  const redis = await startRedis();
  const worker = boptAsync(['worker', '--queue', redis.url, '--queue-name', 'outage', '--workers', '1']);
  try {
    const deadline = Date.now() + 30_000;
    while (!/waiting for jobs/.test(worker.output().stderr)) {
      if (worker.exitCode !== null || Date.now() > deadline)
        throw new Error(`worker did not start: ${worker.output().stderr}`);
      await sleep(20);
    }
    await redis.stop();
    await sleep(3_000);
    worker.kill('SIGTERM');
    const end = await Promise.race([exited(worker), sleep(45_000).then(() => null)]);
    assert.deepEqual(end, { code: 0, signal: null }, `exited: ${worker.output().stderr}`);
    // Whether the grace period was needed depends on timing: under load ioredis may already have given
    // up on the connection, and BullMQ's close then returns at once. Either way the worker must exit.
    assert.match(worker.output().stderr, /stopping; running jobs go back to the queue/);
    assert.match(worker.output().stderr, /stopped; trained 0/);
  } finally {
    if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    await exited(worker);
    await redis.stop();
  }
});
