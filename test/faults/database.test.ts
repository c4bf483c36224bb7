/**
 * Fault injection on the database: newer schemas, concurrent creation, damaged or foreign files,
 * read-only files and folders, and a refused run that must write nothing.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { latestSchemaVersion } from '../../src/storage/migrate.js';
import { SweepStore } from '../../src/storage/store.js';
import { Coordinator } from '../../src/scheduler/coordinator.js';
import { LockedError } from '../../src/errors.js';
import { spawn } from 'node:child_process';
import { packageRoot } from '../../src/paths.js';
import { bopt, exited } from '../helpers/cli.js';
import { tempDir, tinySweep } from '../helpers/fixtures.js';

const oneLineError = (stderr: string, ...parts: string[]): void => {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /internal error|at .+\.js:\d+/, 'no stack trace');
  for (const p of parts) assert.ok(stderr.includes(p), `"${p}" in: ${stderr}`);
};

const SWEEP = `name: t
fixed: {engine: reference, model: logreg, dataset: synthetic, n_train: 40, n_test: 40, batch_size: 10, lr: 0.1, steps: 3}
grid: {seed: [0, 1]}
`;

test('a database of a newer schema is refused by run as well as by query, status and list', () => {
  const { dir, cleanup } = tempDir();
  try {
    const dbPath = join(dir, 'db.sqlite');
    SweepStore.open(dbPath).close();
    const raw = new Database(dbPath);
    raw.pragma(`user_version = ${latestSchemaVersion() + 1}`);
    raw.close();
    const before = readFileSync(dbPath);
    const file = join(dir, 't.yaml');
    writeFileSync(file, SWEEP);
    for (const args of [['run', file, '--no-ui'], ['status'], ['list'], ['query', 'SELECT 1']]) {
      const r = bopt([...args, '--db', dbPath]);
      assert.equal(r.status, 2, `${args[0]}: ${r.stderr}`);
      oneLineError(r.stderr, dbPath, 'newer');
    }
    assert.ok(readFileSync(dbPath).equals(before), 'nothing written');
  } finally {
    cleanup();
  }
});

test('several processes creating one new database at once all succeed', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const storeModule = join(packageRoot(), 'dist', 'src', 'storage', 'store.js');
    for (let round = 0; round < 6; round++) {
      const dbPath = join(dir, `db${round}.sqlite`);
      // Each process waits for the same instant, then creates the database and registers a sweep.
      const at = Date.now() + 600;
      const script = `const { SweepStore } = await import(${JSON.stringify(storeModule)});
        while (Date.now() < ${at});
        SweepStore.open(${JSON.stringify(dbPath)}).close();`;
      const children = Array.from({ length: 5 }, () =>
        spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] }),
      );
      const errors = children.map((c) => {
        let text = '';
        c.stderr!.on('data', (d) => (text += d));
        return () => text;
      });
      const codes = await Promise.all(children.map((c) => exited(c)));
      codes.forEach((c, i) => assert.equal(c.code, 0, `round ${round}, process ${i}: ${errors[i]!()}`));
      const db = new Database(dbPath, { readonly: true });
      assert.equal(db.pragma('user_version', { simple: true }), latestSchemaVersion());
      db.close();
    }
  } finally {
    cleanup();
  }
});

test('damaged, truncated, foreign and unwritable databases: one line naming the file from every command', () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, 't.yaml');
    writeFileSync(file, SWEEP);
    const good = join(dir, 'good.sqlite');
    assert.equal(bopt(['run', file, '--no-ui', '--workers', '1', '--db', good]).status, 0);
    const goodBytes = readFileSync(good);

    const cases: Array<{ name: string; make: (p: string) => void; problem: RegExp }> = [
      {
        name: 'text.sqlite',
        make: (p) => writeFileSync(p, 'hello, this is not a database at all'.repeat(200)),
        problem: /not an? (bopt|SQLite)/i,
      },
      {
        name: 'truncated.sqlite',
        make: (p) => writeFileSync(p, goodBytes.subarray(0, 3000)),
        problem: /damaged|malformed|not an? /i,
      },
      {
        name: 'scrambled.sqlite',
        make: (p) => {
          const b = Buffer.from(goodBytes);
          for (let i = 4096; i < b.length; i += 7) b[i] = (b[i]! * 31 + 7) & 255;
          writeFileSync(p, b);
        },
        problem: /damaged|malformed|not an? /i,
      },
      {
        name: 'foreign.sqlite',
        make: (p) => {
          const db = new Database(p);
          db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES (1)');
          db.close();
        },
        problem: /not a bopt database/,
      },
    ];
    for (const c of cases) {
      const p = join(dir, c.name);
      c.make(p);
      const before = readFileSync(p);
      for (const args of [['run', file, '--no-ui'], ['status'], ['list'], ['query', 'SELECT 1']]) {
        const r = bopt([...args, '--db', p]);
        assert.equal(r.status, 2, `${c.name} ${args[0]}: ${r.stderr}`);
        oneLineError(r.stderr, p);
        assert.match(r.stderr, c.problem, `${c.name} ${args[0]}`);
      }
      assert.ok(readFileSync(p).equals(before), `${c.name}: nothing written`);
    }

    if (process.getuid?.() !== 0) {
      const ro = join(dir, 'ro.sqlite');
      writeFileSync(ro, goodBytes);
      chmodSync(ro, 0o444);
      const r = bopt(['run', file, '--no-ui', '--db', ro]);
      assert.equal(r.status, 2, r.stderr);
      oneLineError(r.stderr, ro);
      const lockedDir = join(dir, 'locked');
      mkdirSync(lockedDir);
      chmodSync(lockedDir, 0o555);
      const inLocked = join(lockedDir, 'sub', 'db.sqlite');
      const r2 = bopt(['run', file, '--no-ui', '--db', inLocked]);
      assert.equal(r2.status, 2, r2.stderr);
      oneLineError(r2.stderr, inLocked);
      chmodSync(lockedDir, 0o755);
    }
  } finally {
    cleanup();
  }
});

test('an empty --db is refused, not silently the default database', () => {
  for (const args of [['status'], ['list'], ['query', 'SELECT 1']]) {
    const r = bopt([...args, '--db', '']);
    assert.equal(r.status, 2, r.stderr);
    oneLineError(r.stderr, '--db', 'empty');
  }
});

test('a refused run (the sweep is live elsewhere) writes nothing: spec and tasks unchanged', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const dbPath = join(dir, 'db.sqlite');
    const store = SweepStore.open(dbPath);
    const first = tinySweep('live', [0, 1]);
    const { sweepId } = store.registerSweep(first, 't');
    store.acquireLease(sweepId, 'live', 'someone-else', 60_000);
    const bigger = { ...tinySweep('live', [0, 1, 2, 3]), specText: 'name: live\n# edited', specHash: 'edited' };
    const never = {
      slots: 1,
      description: 'never',
      run: () => Promise.reject(new Error('must not run')),
      close: async () => {},
    };
    await assert.rejects(
      new Coordinator({ store, sweep: bigger, runner: never, codeVersion: 't' }).run(),
      (e: unknown) => e instanceof LockedError,
    );
    assert.equal(store.getSweep('live')!.specHash, 'live', 'stored spec kept');
    assert.equal(store.counts(sweepId).total, 2, 'no task added');
    store.close();
  } finally {
    cleanup();
  }
});

test('--workers -1 asks for a positive integer', () => {
  const r = bopt(['run', 'sweeps/quick.yaml', '--workers', '-1', '--db', '/nonexistent/never.sqlite']);
  assert.equal(r.status, 2);
  oneLineError(r.stderr, '--workers', 'positive integer', '"-1"');
});
