import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { DatabaseError, DatabaseNotFoundError, ForeignDatabaseError } from '../errors.js';
import { latestSchemaVersion, migrate } from './migrate.js';
import { databaseError, isBusy, noteOpened } from './problems.js';

export interface OpenOptions {
  /** How long one statement waits for a lock another connection holds. Default 5 s. */
  busyTimeoutMs?: number;
}

/**
 * Refuse a database this bopt must not touch: one of a newer schema, or another application's
 * (tables but no bopt schema version). Reading the schema also surfaces a file that is not SQLite.
 */
function checkIdentity(db: Database.Database, path: string, allowEmpty: boolean): void {
  // One statement, so one snapshot: another process may be creating the schema at this very moment.
  const { version, objects } = db
    .prepare(
      'SELECT (SELECT user_version FROM pragma_user_version) AS version, (SELECT count(*) FROM sqlite_master) AS objects',
    )
    .get() as { version: number; objects: number };
  if (version > latestSchemaVersion())
    throw new DatabaseError(
      `database ${path} has schema v${version}, newer than this bopt understands (v${latestSchemaVersion()}): upgrade bopt`,
    );
  if (version === 0 && (objects > 0 || !allowEmpty))
    throw objects > 0
      ? new ForeignDatabaseError(`database ${path} is not a bopt database (it has tables of another application)`)
      : new DatabaseError(`database ${path} is not a bopt database (no schema)`);
}

/** Open (creating if needed) a database for writing: WAL, foreign keys, schema migrated. */
export function openWritable(path: string, options: OpenOptions = {}): Database.Database {
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (e) {
    throw databaseError(path, e);
  }
  let db: Database.Database;
  try {
    db = new Database(path);
  } catch (e) {
    throw databaseError(path, e);
  }
  noteOpened(path);
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  // Switching a new file to WAL takes an exclusive lock for which SQLite does not wait (it answers
  // SQLITE_BUSY at once while another process is creating the same database): retry that briefly.
  const deadline = Date.now() + busyTimeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      prepareWritable(db, path, busyTimeoutMs);
      return db;
    } catch (e) {
      if (isBusy(e) && Date.now() < deadline) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.min(10 * attempt, 200));
        continue;
      }
      db.close();
      throw databaseError(path, e);
    }
  }
}

function prepareWritable(db: Database.Database, path: string, busyTimeoutMs: number): void {
  // First, so that every later statement waits for a lock rather than failing at once.
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  checkIdentity(db, path, true);
  if (db.pragma('journal_mode', { simple: true }) !== 'wal') db.pragma('journal_mode = WAL');
  // NORMAL is durable across process crashes in WAL mode (only a power loss can drop the last commits).
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  migrate(db);
}

/** Open an existing database read-only: writes through it fail in SQLite itself. */
export function openReadOnly(path: string): Database.Database {
  if (!existsSync(path)) {
    throw new DatabaseNotFoundError(path);
  }
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw databaseError(path, e);
  }
  noteOpened(path);
  try {
    db.pragma('busy_timeout = 5000');
    checkIdentity(db, path, false);
  } catch (e) {
    db.close();
    throw databaseError(path, e);
  }
  return db;
}
