/**
 * Exact resume: kill -9 of the coordinator mid-sweep, Ctrl-C, and a second coordinator on a live
 * sweep. Tasks are small but not trivial, so the kill lands while some are running.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  bopt,
  boptAsync,
  countOf,
  exited,
  killableSweepYaml,
  tempDir,
  waitForCount,
  writeSweep,
} from '../helpers/index.js';

let dir: string;
let cleanup: () => void;
before(() => ({ dir, cleanup } = tempDir()));
after(() => cleanup());

const GRID_SIZE = 24;
const SWEEP = (name: string) => killableSweepYaml(name, 2);

test('SIGKILL of the coordinator mid-sweep, then run again: every task has exactly one result', async () => {
  const db = join(dir, 'kill.sqlite');
  const file = writeSweep(dir, 'killme', SWEEP('killme'));
  const child = boptAsync(['run', file, '--db', db, '--workers', '2', '--no-ui']);
  await waitForCount(db, 'SELECT count(*) FROM results', 3);
  await waitForCount(db, "SELECT count(*) FROM tasks WHERE state = 'running'", 1);
  child.kill('SIGKILL');
  const { signal } = await exited(child);
  assert.equal(signal, 'SIGKILL');
  const doneBefore = countOf(db, 'SELECT count(*) FROM results');
  assert.ok(doneBefore < GRID_SIZE, 'killed before the end');
  assert.ok(
    countOf(db, "SELECT count(*) FROM tasks WHERE state = 'running'") >= 1,
    'the kill left tasks marked running',
  );

  // The dead holder's lease is recognised at once (its pid is gone) and its tasks reclaimed.
  const resumed = bopt(['run', file, '--db', db, '--workers', '2']);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, new RegExp(`${GRID_SIZE} tasks \\(${doneBefore} already done`));
  assert.equal(countOf(db, 'SELECT count(*) FROM results'), GRID_SIZE);
  assert.equal(countOf(db, 'SELECT count(DISTINCT task_key) FROM results'), GRID_SIZE);
  assert.equal(countOf(db, "SELECT count(*) FROM tasks WHERE state <> 'done'"), 0);
  assert.equal(
    countOf(db, 'SELECT count(*) FROM tasks t LEFT JOIN results r ON r.task_key = t.key WHERE r.task_key IS NULL'),
    0,
  );
  assert.equal(countOf(db, 'SELECT count(*) FROM leases'), 0);
  assert.equal(
    countOf(db, 'SELECT count(*) FROM progress'),
    0,
    'no stale step-level progress of the killed coordinator',
  );
  // No curve row without its result, none twice.
  assert.equal(
    countOf(db, 'SELECT count(*) FROM (SELECT task_key, step FROM curves GROUP BY 1, 2 HAVING count(*) > 1)'),
    0,
  );
});

test('Ctrl-C: running tasks return to pending, exit 130 with a resume hint; `bopt resume` finishes the sweep', async () => {
  const db = join(dir, 'int.sqlite');
  const file = writeSweep(dir, 'interrupt-me', SWEEP('interrupt-me'));
  const child = boptAsync(['run', file, '--db', db, '--workers', '2', '--no-ui']);
  await waitForCount(db, 'SELECT count(*) FROM results', 2);
  child.kill('SIGINT');
  const { code } = await exited(child);
  assert.equal(code, 130);
  assert.match(
    child.output().stderr,
    /interrupted; \d+\/24 done, the rest is pending\. Resume with: bopt resume interrupt-me/,
  );
  assert.match(child.output().stdout, /^interrupted: \d+\/24 done/m);
  assert.equal(countOf(db, "SELECT count(*) FROM tasks WHERE state = 'running'"), 0);
  assert.equal(
    countOf(db, "SELECT count(*) FROM tasks WHERE state = 'done'"),
    countOf(db, 'SELECT count(*) FROM results'),
  );
  assert.equal(countOf(db, 'SELECT count(*) FROM tasks WHERE attempts > 0'), 0, 'an interrupt is not a failure');
  assert.equal(countOf(db, 'SELECT count(*) FROM leases'), 0);

  const resumed = bopt(['resume', 'interrupt-me', '--db', db]);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.equal(countOf(db, 'SELECT count(*) FROM results'), 24);
});

test('a second coordinator on a sweep whose coordinator is alive is refused', async () => {
  const db = join(dir, 'lease.sqlite');
  const file = writeSweep(dir, 'leased', SWEEP('leased'));
  const child = boptAsync(['run', file, '--db', db, '--workers', '1', '--no-ui']);
  try {
    await waitForCount(db, 'SELECT count(*) FROM leases', 1);
    const second = bopt(['run', file, '--db', db]);
    assert.equal(second.status, 3);
    assert.match(
      second.stderr.trim(),
      /^bopt: sweep "leased" is already being run by pid \d+ on .*; stop that coordinator first/,
    );
    assert.equal(second.stderr.trim().split('\n').length, 1);
  } finally {
    child.kill('SIGINT');
    await exited(child);
  }
});
