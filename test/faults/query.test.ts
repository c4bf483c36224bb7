/**
 * `bopt query` is bounded: a time limit (the query runs in a child process that is killed), a row
 * cap that is said on stderr, and csv/json written as rows come so memory does not grow with them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SweepStore } from '../../src/storage/store.js';
import { bopt, CLI } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

let dir: string;
let cleanup: () => void;
let db: string;
before(() => {
  ({ dir, cleanup } = tempDir('bopt-query-'));
  db = join(dir, 'q.sqlite');
  SweepStore.open(db).close();
});
after(() => cleanup?.());

/** Processes whose command line contains `tag` (a comment in the SQL, unique to one test). */
function processesWith(tag: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(tag)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

test('a query that never ends stops at the time limit: one line, exit 2, nothing left running', () => {
  const tag = `never-ends-${process.pid}`;
  const sql = `/* ${tag} */ WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c`;
  const r = bopt(['query', sql, '--db', db, '--timeout', '1']);
  assert.equal(r.status, 2, r.stderr);
  assert.equal(
    r.stderr.trim(),
    'bopt: query stopped: it ran past the time limit of 1 s (raise it with --timeout SECONDS, 0 for no limit)',
  );
  assert.deepEqual(processesWith(tag), [], 'the child running the query was killed');
});

test('the row cap: the rows up to it, then one line on stderr; the default cap is 10,000', () => {
  const endless = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c';
  const r = bopt(['query', endless, '--db', db, '--format', 'csv', '--max-rows', '5']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'x\n1\n2\n3\n4\n5\n');
  assert.equal(
    r.stderr.trim(),
    'bopt: query: output stopped at 5 rows (--max-rows 5); raise it with --max-rows N, 0 for no limit',
  );
  const json = bopt(['query', endless, '--db', db, '--format', 'json']);
  assert.equal(json.status, 0, json.stderr);
  const rows = JSON.parse(json.stdout) as { x: number }[];
  assert.equal(rows.length, 10_000);
  assert.deepEqual(rows.at(-1), { x: 10_000 });
  assert.match(json.stderr, /stopped at 10000 rows \(--max-rows 10000\)/);
  const few = bopt(['query', 'SELECT 1 AS a UNION ALL SELECT 2', '--db', db, '--format', 'json']);
  assert.deepEqual(JSON.parse(few.stdout), [{ a: 1 }, { a: 2 }]);
  assert.equal(few.stderr, '', 'no note when nothing was cut');
});

test('csv and json stream: 60 MB of rows pass through a 48 MB heap', () => {
  const rows = 100_000;
  const sql = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${rows}) SELECT x, printf('%0600d', x) AS wide FROM c`;
  for (const format of ['csv', 'json']) {
    const r = spawnSync(
      process.execPath,
      ['--max-old-space-size=48', CLI, 'query', sql, '--db', db, '--format', format, '--max-rows', '0'],
      { encoding: 'utf8', maxBuffer: 512 * 2 ** 20, timeout: 120_000 },
    );
    assert.equal(r.status, 0, `${format}: ${r.stderr.slice(0, 500)}`);
    assert.ok(r.stdout.length > rows * 600, `${format}: every row written (${r.stdout.length} characters)`);
    assert.ok(r.stdout.includes(String(rows).padStart(600, '0')), `${format}: the last row is there`);
  }
});
