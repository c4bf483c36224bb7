/**
 * Throughput of small tasks through Redis against the local mode (not part of npm test):
 *
 *   npx tsc -p . && node dist/test/queue/throughput.bench.js [tasks=400] [steps=5]
 *
 * Starts its own redis-server on loopback. The coordinator runs in this process; the queue workers
 * are `bopt worker` processes with one thread each. Prints tasks/s and the wall time per task.
 */
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { Coordinator } from '../../src/scheduler/coordinator.js';
import { SweepStore } from '../../src/storage/store.js';
import { PiscinaRunner } from '../../src/pool/piscina-runner.js';
import type { TaskRunner } from '../../src/pool/protocol.js';
import { BullmqRunner, storedResultCheck } from '../../src/queue/bullmq-runner.js';
import { boptVersion } from '../../src/version.js';
import { boptAsync, exited, tempDir, tinySweep, valueOf } from '../helpers/index.js';
import { startRedis } from '../helpers/redis.js';
import { setTimeout as sleep } from 'node:timers/promises';

const tasks = Number(process.argv[2] ?? 400);
const steps = Number(process.argv[3] ?? 5);
const { dir, cleanup } = tempDir('bopt-bench-');
const redis = await startRedis();
const seeds = Array.from({ length: tasks }, (_, i) => i);

interface Row {
  mode: string;
  threads: number;
  wallMs: number;
  trainMs: number;
}
const rows: Row[] = [];

async function measure(
  mode: string,
  threads: number,
  makeRunner: (store: SweepStore, name: string) => Promise<TaskRunner>,
): Promise<void> {
  const name = `bench-${rows.length}`;
  const store = SweepStore.open(join(dir, `${name}.sqlite`));
  const runner = await makeRunner(store, name);
  const sweep = tinySweep(name, seeds, { steps });
  // Warm-up outside the timing: thread start, engine load, Redis connections.
  await new Coordinator({
    store,
    sweep: tinySweep(`${name}-warm`, [1_000_000, 1_000_001, 1_000_002, 1_000_003], { steps }),
    runner,
    codeVersion: boptVersion(),
  }).run();
  const t0 = performance.now();
  const summary = await new Coordinator({ store, sweep, runner, codeVersion: boptVersion() }).run();
  const wallMs = performance.now() - t0;
  if (summary.counts.done !== tasks) throw new Error(`${mode}: ${summary.counts.done}/${tasks} done`);
  const trainMs = valueOf(
    store.path,
    `SELECT avg(wall_ms) FROM results r JOIN sweep_tasks st ON st.task_key = r.task_key JOIN sweeps s ON s.id = st.sweep_id WHERE s.name = ?`,
    name,
  ) as number;
  await runner.close();
  store.close();
  rows.push({ mode, threads, wallMs, trainMs });
  process.stderr.write(`${mode}: ${wallMs.toFixed(0)} ms\n`);
}

async function workers(name: string, n: number): Promise<ReturnType<typeof boptAsync>[]> {
  const ws = Array.from({ length: n }, () =>
    boptAsync(['worker', '--queue', redis.url, '--queue-name', name, '--workers', '1']),
  );
  for (const w of ws) while (!/waiting for jobs/.test(w.output().stderr)) await sleep(20);
  return ws;
}

async function queued(processes: number, slots?: number): Promise<void> {
  let ws: ReturnType<typeof boptAsync>[] = [];
  await measure(
    `queue, ${processes} worker process${processes > 1 ? 'es' : ''}${slots ? `, ${slots} slots` : ''}`,
    processes,
    async (store, name) => {
      ws = await workers(name, processes);
      return BullmqRunner.connect({ url: redis.url, queueName: name, isStored: storedResultCheck(store), slots });
    },
  );
  for (const w of ws) w.kill('SIGTERM');
  await Promise.all(ws.map((w) => exited(w)));
}

try {
  await measure('local, 1 thread', 1, async () => new PiscinaRunner({ workers: 1 }));
  await measure('local, 2 threads', 2, async () => new PiscinaRunner({ workers: 2 }));
  await queued(1);
  await queued(2);
  await queued(1, 4);
  await queued(2, 4);
} finally {
  await redis.stop();
  cleanup();
}

const local1 = rows[0]!.wallMs / tasks;
console.log(
  `\n${tasks} tasks (reference softmax, n_train 50, n_test 100, steps ${steps}), ${availableParallelism()} cores, node ${process.version}`,
);
console.log(
  'mode                                  tasks/s   ms/task  train ms/task  overhead ms/task vs local, same threads',
);
for (const r of rows) {
  const per = r.wallMs / tasks;
  const local = rows.find((x) => x.mode.startsWith('local') && x.threads === r.threads)!.wallMs / tasks;
  console.log(
    `${r.mode.padEnd(37)} ${(1000 / per).toFixed(0).padStart(7)} ${per.toFixed(2).padStart(9)} ${r.trainMs.toFixed(2).padStart(14)} ${r.mode.startsWith('local') ? '' : (per - local).toFixed(2).padStart(17)}`,
  );
}
void local1;
