import Database from 'better-sqlite3';
import { InputError } from '../errors.js';
import { openReadOnly } from './open.js';

export type Cell = string | number | bigint | Buffer | null;

export interface QueryResult {
  columns: string[];
  rows: Cell[][];
}

/**
 * Run one SQL statement against a database opened read-only, so that a DELETE or an UPDATE is
 * refused by SQLite itself, whatever the text says.
 */
export function queryReadOnly(path: string, sql: string, params: Cell[] = []): QueryResult {
  const db = openReadOnly(path);
  try {
    return runQuery(db, sql, params);
  } finally {
    db.close();
  }
}

export function runQuery(db: Database.Database, sql: string, params: Cell[] = []): QueryResult {
  let stmt: Database.Statement;
  try {
    stmt = db.prepare(sql);
  } catch (e) {
    throw new InputError(`bad SQL: ${(e as Error).message}`);
  }
  if (!stmt.reader) {
    throw new InputError(
      'query refused: the database is opened read-only and this statement returns no rows (only SELECT-like queries are allowed)',
    );
  }
  try {
    const columns = stmt.columns().map((c) => c.name);
    const rows = stmt.raw(true).all(...params) as Cell[][];
    return { columns, rows };
  } catch (e) {
    const message = (e as Error).message;
    if (e instanceof Database.SqliteError && e.code.startsWith('SQLITE_READONLY'))
      throw new InputError(`query refused: the database is opened read-only (${message})`);
    throw new InputError(`SQL error: ${message}`);
  }
}
