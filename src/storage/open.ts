import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { BoptError } from '../errors.js';
import { latestSchemaVersion, migrate } from './migrate.js';

/** Open (creating if needed) a database for writing: WAL, foreign keys, schema migrated. */
export function openWritable(path: string): Database.Database {
  mkdirSync(dirname(path), { recursive: true });
  let db: Database.Database;
  try {
    db = new Database(path);
  } catch (e) {
    throw new BoptError(`cannot open database ${path}: ${(e as Error).message}`);
  }
  try {
    db.pragma('journal_mode = WAL');
    // NORMAL is durable across process crashes in WAL mode (only a power loss can drop the last commits).
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db);
  } catch (e) {
    db.close();
    throw new BoptError(`cannot use database ${path}: ${(e as Error).message}`);
  }
  return db;
}

/** Open an existing database read-only: writes through it fail in SQLite itself. */
export function openReadOnly(path: string): Database.Database {
  if (!existsSync(path)) {
    throw new BoptError(`database not found: ${path} (run \`bopt run SWEEP_FILE\` first, or pass --db / set BOPT_DB)`);
  }
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
  } catch (e) {
    throw new BoptError(`cannot open database ${path}: ${(e as Error).message}`);
  }
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version === 0) {
    db.close();
    throw new BoptError(`${path} is not a bopt database (no schema)`);
  }
  if (version > latestSchemaVersion()) {
    db.close();
    throw new BoptError(
      `${path} has schema v${version}, newer than this bopt understands (v${latestSchemaVersion()}): upgrade bopt`,
    );
  }
  return db;
}
