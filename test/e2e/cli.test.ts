/**
 * End to end through the compiled CLI: real sweep files, the Piscina pool, the reference engine and
 * SQLite. Tasks are tiny so the file stays fast on 2 cores.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { bopt, countOf, tempDir, writeSweep } from '../helpers/index.js';

let dir: string;
let cleanup: () => void;
before(() => ({ dir, cleanup } = tempDir()));
after(() => cleanup());

const TINY = (name: string, extra = '') => `name: ${name}
fixed:
  engine: reference
  model: mlp
  hidden: 16
  dataset: mnist
  n_train: 100
  n_test: 200
  steps: 20
  eval_every: 10
grid:
  lr: [0.05, 0.2]
  batch_size: {log: {from: 1, to: 100, num: 5, round: true}}
repeats: 2
${extra}`;

test('a ~20-task sweep on 2 workers: every task stored once, plain progress lines, queries and exports', () => {
  const db = join(dir, 'e2e.sqlite');
  const file = writeSweep(dir, 'tiny-e2e', TINY('tiny-e2e'));
  const run = bopt(['run', file, '--db', db, '--workers', '2']);
  assert.equal(run.status, 0, run.stderr);
  assert.equal(countOf(db, 'SELECT count(*) FROM results'), 20);
  assert.equal(countOf(db, "SELECT count(*) FROM tasks WHERE state = 'done'"), 20);
  assert.equal(countOf(db, 'SELECT count(*) FROM curves'), 20 * 3, 'curve points at steps 0, 10, 20');
  // Not a TTY: plain lines, no escape codes, and a final summary.
  assert.doesNotMatch(run.stdout, /\x1b\[/);
  const lines = run.stdout.trim().split('\n');
  assert.match(lines[0]!, /^sweep tiny-e2e: 20 tasks \(0 already done, 20 to run\) on 2 workers/);
  assert.match(lines.at(-1)!, /^finished: 20\/20 done, 0 failed, 0 pending in /);

  // Running it again trains nothing; adding grid values trains only the new points.
  const again = bopt(['run', file, '--db', db]);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /20 tasks \(20 already done, 0 to run\)/);
  writeSweep(dir, 'tiny-e2e', TINY('tiny-e2e').replace('lr: [0.05, 0.2]', 'lr: [0.05, 0.2, 0.5]'));
  const extended = bopt(['run', file, '--db', db]);
  assert.equal(extended.status, 0, extended.stderr);
  assert.match(extended.stdout, /30 tasks \(20 already done, 10 to run\)/);
  assert.equal(countOf(db, 'SELECT count(*) FROM results'), 30);

  const status = bopt(['status', 'tiny-e2e', '--db', db]);
  assert.equal(status.status, 0);
  assert.match(status.stdout, /tiny-e2e: complete; 30 tasks: 30 done, 0 running, 0 pending, 0 failed/);

  const csv = bopt([
    'query',
    'SELECT batch_size, count(*) AS n FROM runs GROUP BY batch_size ORDER BY batch_size',
    '--db',
    db,
    '--format',
    'csv',
  ]);
  assert.equal(csv.status, 0, csv.stderr);
  assert.equal(csv.stdout, 'batch_size,n\n1,6\n3,6\n10,6\n32,6\n100,6\n');

  const json = bopt(['export', 'tiny-e2e', '--db', db, '--format', 'json']);
  assert.equal(json.status, 0, json.stderr);
  const rows = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
  assert.equal(rows.length, 30);
  assert.ok(rows.every((r) => typeof r.test_accuracy === 'number' && r.engine === 'reference'));

  const list = bopt(['list', '--db', db, '--format', 'json']);
  assert.deepEqual(
    (JSON.parse(list.stdout) as Array<{ sweep: string; done: number }>).map((s) => [s.sweep, s.done]),
    [['tiny-e2e', 30]],
  );
});

test('the same configuration in two sweeps is trained once', () => {
  const db = join(dir, 'shared.sqlite');
  const a = writeSweep(dir, 'share-a', TINY('share-a'));
  const b = writeSweep(dir, 'share-b', TINY('share-b').replace('lr: [0.05, 0.2]', 'lr: [0.2, 0.4]'));
  assert.equal(bopt(['run', a, '--db', db]).status, 0);
  const rb = bopt(['run', b, '--db', db]);
  assert.equal(rb.status, 0, rb.stderr);
  assert.match(rb.stdout, /20 tasks \(10 already done, 10 to run\)/);
  assert.equal(countOf(db, 'SELECT count(*) FROM results'), 30);
  assert.equal(countOf(db, "SELECT count(*) FROM runs WHERE sweep = 'share-b'"), 20);
});

test('a task that throws or whose worker thread dies is retried, then failed; --retry-failed reruns only those', () => {
  const db = join(dir, 'faults.sqlite');
  const file = writeSweep(dir, 'faults', TINY('faults').replace('repeats: 2', 'repeats: 3'));
  // seed 1: the worker thread exits on the first attempt (then succeeds); seed 2: throws on every attempt.
  const crash = bopt(['run', file, '--db', db, '--retries', '1'], {
    BOPT_FAULT: JSON.stringify({ seeds: [1], kind: 'exit', failAttempts: 1 }),
  });
  assert.equal(crash.status, 0, crash.stderr);
  assert.equal(countOf(db, "SELECT count(*) FROM tasks WHERE state = 'done'"), 30);
  assert.match(crash.stdout, /retry: task [0-9a-f]{12} attempt 1 failed: .*exit/i);

  const db2 = join(dir, 'faults2.sqlite');
  const failing = bopt(['run', file, '--db', db2, '--retries', '1'], {
    BOPT_FAULT: JSON.stringify({ seeds: [2], kind: 'throw', failAttempts: 99 }),
  });
  assert.equal(failing.status, 1);
  assert.match(failing.stderr, /10 task\(s\) failed/);
  assert.match(failing.stdout, /failed: task [0-9a-f]{12} after 2 attempts: injected fault \(seed 2, attempt 2\)/);
  assert.equal(
    countOf(db2, "SELECT count(*) FROM failures WHERE last_error LIKE 'injected fault%' AND attempts = 2"),
    10,
  );
  assert.equal(countOf(db2, 'SELECT count(*) FROM results'), 20);

  const retry = bopt(['run', file, '--db', db2, '--retry-failed']);
  assert.equal(retry.status, 0, retry.stderr);
  assert.match(retry.stdout, /30 tasks \(20 already done, 10 to run\)/);
  assert.equal(countOf(db2, 'SELECT count(*) FROM results'), 30);
});

test('a diverging run is a valid result with diverged = 1, not a failure', () => {
  const db = join(dir, 'diverge.sqlite');
  const file = writeSweep(
    dir,
    'diverge',
    TINY('diverge').replace('lr: [0.05, 0.2]', 'lr: [1e38]').replace('repeats: 2', 'repeats: 1'),
  );
  const r = bopt(['run', file, '--db', db]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(countOf(db, 'SELECT count(*) FROM results WHERE diverged = 1') >= 1);
  assert.equal(countOf(db, "SELECT count(*) FROM tasks WHERE state = 'failed'"), 0);
});

test('bad input: one-line errors naming the culprit, non-zero exit, no stored data lost', () => {
  const db = join(dir, 'bad.sqlite');
  const good = writeSweep(dir, 'good', TINY('good').replace('repeats: 2', 'repeats: 1'));
  assert.equal(bopt(['run', good, '--db', db]).status, 0);
  const before = countOf(db, 'SELECT count(*) FROM results');

  const cases: Array<[string[], RegExp]> = [
    [
      ['run', writeSweep(dir, 'malformed', 'name: x\nfixed: [1, 2\n'), '--db', db],
      /malformed\.yaml: line \d+, column \d+: YAML syntax error/,
    ],
    [
      ['run', writeSweep(dir, 'unknown', TINY('unknown').replace('hidden: 16', 'hiden: 16')), '--db', db],
      /unknown\.yaml: fixed\.hiden: unknown parameter "hiden"/,
    ],
    [['run', join(dir, 'nope.yaml'), '--db', db], /nope\.yaml: file not found/],
    [['query', 'DELETE FROM results', '--db', db], /query refused/],
    [['query', 'SELECT * FROM nowhere', '--db', db], /no such table: nowhere/],
    [
      ['query', 'SELECT 1', '--db', join(dir, 'missing.sqlite')],
      /database not found: .*missing\.sqlite \(run `bopt run SWEEP_FILE` first, or pass --db \/ set BOPT_DB\)$/,
    ],
    [['query', 'SELECT 1', '--db', ' '], /^bopt: --db: empty path/],
    [['run', good, '--db', db, '--queue', 'http://h:1'], /^bopt: --queue: unsupported scheme "http"/],
    [['export', 'nosuchsweep', '--db', db], /unknown sweep "nosuchsweep".*known: good/],
    [['query', 'SELECT 1', '--db', db, '--format', 'xml'], /--format: expected one of table, csv, json, got "xml"/],
    [['run', good, '--db', db, '--workers', '0'], /--workers: expected a positive integer/],
  ];
  for (const [args, pattern] of cases) {
    const r = bopt(args);
    assert.notEqual(r.status, 0, `${args.join(' ')} should fail`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
    assert.match(lines[0]!, pattern);
  }
  assert.equal(countOf(db, 'SELECT count(*) FROM results'), before);
});
