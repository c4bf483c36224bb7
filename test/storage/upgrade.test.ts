/**
 * A database written by an older schema opens with the current code: it is migrated in place, its
 * results stay where they were, and a sweep stored there resumes without retraining anything. The
 * old database is made honestly: only the migrations of that version are applied (copied to a
 * folder of their own) and its rows are written with that version's columns.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { ENGINE_VERSIONS } from '../../src/engines/versions.js';
import { MIGRATIONS_DIR } from '../../src/paths.js';
import { latestSchemaVersion, listMigrations, migrate } from '../../src/storage/migrate.js';
import { parseSweep } from '../../src/sweep/index.js';
import { SweepStore } from '../../src/storage/store.js';
import { SweepWatcher } from '../../src/ui/watch.js';
import { bopt, countOf, rowOf, tempDir, valueOf, writeSweep } from '../helpers/index.js';

let dir: string;
let cleanup: () => void;
before(() => ({ dir, cleanup } = tempDir()));
after(() => cleanup());

const SWEEP = `name: old-schema
fixed:
  engine: reference
  model: logreg
  dataset: synthetic
  n_train: 32
  n_test: 32
  steps: 5
grid:
  lr: [0.1, 0.2]
  batch_size: [4, 8]
`;

/** A database at schema `version`, holding the sweep above with every task done, as that version wrote it. */
function oldDatabase(version: number, file: string, name = `v${version}`): string {
  const migrations = join(dir, `migrations-${version}`);
  mkdirSync(migrations, { recursive: true });
  for (const m of listMigrations().filter((x) => x.version <= version)) {
    copyFileSync(join(MIGRATIONS_DIR(), m.file), join(migrations, m.file));
  }
  const path = join(dir, `${name}.sqlite`);
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    migrate(db, migrations);
    assert.equal(db.pragma('user_version', { simple: true }), version);
    const sweep = parseSweep(readFileSync(file, 'utf8'), file);
    const now = 1_700_000_000_000;
    const { lastInsertRowid } = db
      .prepare(
        `INSERT INTO sweeps (name, file, spec, spec_hash, code_version, created_at, updated_at) VALUES (?, ?, ?, ?, '0.1.0', ?, ?)`,
      )
      .run(sweep.name, file, sweep.specText, sweep.specHash, now, now);
    sweep.tasks.forEach((t, i) => {
      db.prepare(
        `INSERT INTO tasks (key, params, engine, engine_version, cost, state, worker, created_at, started_at, finished_at)
         VALUES (?, ?, ?, ?, ?, 'done', 'old-host:1/thread-1', ?, ?, ?)`,
      ).run(t.key, JSON.stringify(t.params), t.params.engine, ENGINE_VERSIONS[t.params.engine], t.cost, now, now, now);
      db.prepare('INSERT INTO sweep_tasks (sweep_id, task_key, position) VALUES (?, ?, ?)').run(
        lastInsertRowid,
        t.key,
        i,
      );
      db.prepare(
        `INSERT INTO results (task_key, train_accuracy, train_loss, test_accuracy, test_loss, steps_done, diverged, wall_ms,
           engine, engine_version, backend, worker, created_at)
         VALUES (?, 0.5, 0.69, ?, 0.69, 5, 0, 1, ?, ?, 'typescript', 'old-host:1/thread-1', ?)`,
      ).run(t.key, 0.6 + i / 100, t.params.engine, ENGINE_VERSIONS[t.params.engine], now);
    });
  } finally {
    db.close();
  }
  return path;
}

test('a database of every earlier schema version is migrated on open and keeps its results', () => {
  const latest = latestSchemaVersion();
  assert.ok(latest >= 2, 'there is an earlier schema version to test');
  const file = writeSweep(dir, 'old-schema', SWEEP);
  for (let version = 1; version < latest; version++) {
    const path = oldDatabase(version, file);
    const run = bopt(['run', file, '--db', path, '--no-ui']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /4 tasks \(4 already done, 0 to run\)/, `from schema ${version}: ${run.stdout}`);
    assert.equal(countOf(path, 'PRAGMA user_version'), latest);
    assert.equal(countOf(path, "SELECT count(*) FROM runs WHERE sweep = 'old-schema'"), 4);
    assert.equal(countOf(path, 'SELECT round(sum(test_accuracy), 2) FROM runs'), 2.46);
    const fit = bopt(['fit', 'old-schema', '--db', path, '--bootstrap', '0', '--format', 'json']);
    assert.equal(fit.status, 0, `fit on a migrated database: ${fit.stderr}`);
  }
});

/** The schema version that renamed progress.worker (a lane, not a worker) to progress.lane. */
const LANE_RENAME = 3;

test('a database from before progress.worker was renamed to lane is read as it is and keeps its rows when migrated', () => {
  const file = writeSweep(dir, 'old-schema', SWEEP);
  for (let version = 1; version < LANE_RENAME; version++) {
    const path = oldDatabase(version, file, `lane-${version}`);
    // A coordinator of that version in the middle of one task, on lane 2.
    const db = new Database(path);
    try {
      const key = db.prepare('SELECT key FROM tasks ORDER BY key LIMIT 1').pluck().get() as string;
      db.prepare('DELETE FROM results WHERE task_key = ?').run(key);
      db.prepare("UPDATE tasks SET state = 'running', holder = 'old' WHERE key = ?").run(key);
      db.prepare(
        `INSERT INTO progress (task_key, holder, worker, step, total_steps, loss, updated_at)
         VALUES (?, 'old', 2, 3, 5, 0.5, 1700000000000)`,
      ).run(key);
    } finally {
      db.close();
    }
    // Read-only, as `bopt watch` opens it: nothing migrated, the lane read from the old column.
    const watcher = new SweepWatcher(path, 'old-schema');
    try {
      const vm = watcher.poll();
      assert.deepEqual(
        vm.running.map((w) => [w.lane, w.step, w.totalSteps]),
        [[2, 3, 5]],
        `schema ${version}`,
      );
    } finally {
      watcher.close();
    }
    assert.equal(valueOf(path, 'PRAGMA user_version'), version, 'reading does not migrate');
    // Opened for writing: migrated, the row kept under the column's new name.
    SweepStore.open(path).close();
    assert.equal(valueOf(path, 'PRAGMA user_version'), latestSchemaVersion());
    assert.deepEqual(rowOf(path, 'SELECT lane, step, total_steps, holder FROM progress'), {
      lane: 2,
      step: 3,
      total_steps: 5,
      holder: 'old',
    });
  }
});

test('two migrations of one schema version are refused, naming both files', () => {
  const migrations = join(dir, 'migrations-duplicate');
  mkdirSync(migrations, { recursive: true });
  for (const m of listMigrations()) copyFileSync(join(MIGRATIONS_DIR(), m.file), join(migrations, m.file));
  const latest = latestSchemaVersion();
  writeFileSync(join(migrations, `${String(latest).padStart(3, '0')}_zz_other.sql`), 'SELECT 1;');
  assert.throws(
    () => listMigrations(migrations),
    new RegExp(`migrations \\d+_\\w+\\.sql and \\d+_zz_other\\.sql share schema version ${latest}`),
  );
  const db = new Database(':memory:');
  try {
    assert.throws(() => migrate(db, migrations), /share schema version/);
  } finally {
    db.close();
  }
});

/** The schema version that gave sweep_tasks a rowid (its dispatch index refers to rows by it). */
const MEMBERSHIP_ROWID = 7;

test('a grid partly stored under the key-per-index schema is completed after the migration, its results kept', () => {
  const file = writeSweep(dir, 'old-schema', SWEEP);
  const path = oldDatabase(MEMBERSHIP_ROWID - 1, file, 'partial');
  const before = valueOf(path, 'SELECT round(sum(test_accuracy), 2) FROM results');
  // The same sweep grown by one learning rate: its first four points are stored, done, and its
  // registration marker is unset (as a registration cut short leaves it).
  const grown = writeSweep(dir, 'old-schema', SWEEP.replace('lr: [0.1, 0.2]', 'lr: [0.1, 0.2, 0.3]'));
  assert.equal(grown, file);
  const run = bopt(['run', grown, '--db', path, '--no-ui']);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /6 tasks \(4 already done, 2 to run\)/, run.stdout);
  assert.equal(valueOf(path, 'PRAGMA user_version'), latestSchemaVersion());
  const table = valueOf(path, "SELECT sql FROM sqlite_master WHERE name = 'sweep_tasks'");
  assert.doesNotMatch(String(table), /WITHOUT ROWID/i, 'memberships have a rowid');
  assert.equal(countOf(path, "SELECT count(*) FROM sqlite_master WHERE name = 'sweep_tasks_dispatch'"), 1);
  assert.equal(
    valueOf(path, 'SELECT group_concat(position) FROM (SELECT position FROM sweep_tasks ORDER BY position)'),
    '0,1,2,3,4,5',
  );
  assert.equal(countOf(path, "SELECT count(*) FROM runs WHERE sweep = 'old-schema'"), 6);
  assert.equal(countOf(path, 'SELECT count(*) FROM sweep_status WHERE done = 6 AND running = 0'), 1);
  assert.equal(
    valueOf(path, "SELECT round(sum(test_accuracy), 2) FROM results WHERE worker = 'old-host:1/thread-1'"),
    before,
    'the old results are the ones kept',
  );
  // A new membership's cost is its task's (the dispatch order reads it from the membership).
  assert.equal(
    countOf(
      path,
      'SELECT count(*) FROM sweep_tasks st JOIN tasks t ON t.key = st.task_key WHERE st.position >= 4 AND st.cost = t.cost',
    ),
    2,
  );
});

/** The schema version whose state indexes hold only running and failed tasks. */
const STATE_INDEXES = 8;

test('a database from before the partial state indexes keeps its running and failed tasks findable by state', () => {
  const file = writeSweep(dir, 'old-schema', SWEEP);
  const path = oldDatabase(STATE_INDEXES - 1, file, 'states');
  // A coordinator that died holding one task (no lease left), and one task failed for good.
  const db = new Database(path);
  try {
    const [running, failed] = db.prepare('SELECT key FROM tasks ORDER BY key LIMIT 2').pluck().all() as string[];
    for (const key of [running, failed]) db.prepare('DELETE FROM results WHERE task_key = ?').run(key);
    db.prepare("UPDATE tasks SET state = 'running', holder = 'gone' WHERE key = ?").run(running);
    db.prepare("UPDATE tasks SET state = 'failed', attempts = 3, last_error = 'boom' WHERE key = ?").run(failed);
  } finally {
    db.close();
  }
  const store = SweepStore.open(path);
  try {
    assert.equal(valueOf(path, 'PRAGMA user_version'), latestSchemaVersion());
    const indexes = (name: string): number =>
      countOf(path, `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = '${name}'`);
    assert.deepEqual(
      ['tasks_state', 'tasks_running', 'tasks_failed'].map(indexes),
      [0, 1, 1],
      'tasks_state replaced by the two partial indexes',
    );
    // INDEXED BY fails unless the index can answer the query: each one holds its state's tasks only.
    const inIndex = (index: string, state: string): number =>
      countOf(path, `SELECT count(*) FROM tasks INDEXED BY ${index} WHERE state = '${state}'`);
    assert.deepEqual([inIndex('tasks_running', 'running'), inIndex('tasks_failed', 'failed')], [1, 1]);
    const sweepId = store.requireSweep('old-schema').id;
    assert.equal(store.reclaimOrphans(sweepId), 1, 'the dead coordinator’s task is reclaimed');
    assert.equal(store.resetFailed(sweepId), 1, 'the failed task is reset by --retry-failed');
    assert.deepEqual([inIndex('tasks_running', 'running'), inIndex('tasks_failed', 'failed')], [0, 0]);
    // Registered (pending) and done tasks are in neither index.
    store.registerSweep(parseSweep(readFileSync(file, 'utf8').replace('lr: [0.1, 0.2]', 'lr: [0.3]'), file), 't');
    assert.equal(countOf(path, "SELECT count(*) FROM tasks WHERE state = 'pending'"), 4);
    assert.equal(
      countOf(path, "SELECT count(*) FROM dbstat WHERE name IN ('tasks_running', 'tasks_failed') AND ncell > 0"),
      0,
    );
  } finally {
    store.close();
  }
});
