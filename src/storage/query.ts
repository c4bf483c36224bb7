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
  const { columns, rows } = iterateQuery(db, sql, params);
  return { columns, rows: [...rows] };
}

export interface QueryRows {
  columns: string[];
  /** The rows one at a time, as SQLite steps: nothing is held but the current row. */
  rows: Generator<Cell[], void, undefined>;
}

/** One read-only statement whose rows are read one at a time; errors are one-line InputErrors. */
export function iterateQuery(db: Database.Database, sql: string, params: Cell[] = []): QueryRows {
  const stmt = prepareReader(db, sql);
  const columns = stmt.columns().map((c) => c.name);
  function* rows(): Generator<Cell[], void, undefined> {
    let it: IterableIterator<Cell[]>;
    try {
      it = stmt.raw(true).iterate(...params) as IterableIterator<Cell[]>;
    } catch (e) {
      throw sqlError(e);
    }
    try {
      for (;;) {
        let next: IteratorResult<Cell[]>;
        try {
          next = it.next();
        } catch (e) {
          throw sqlError(e);
        }
        if (next.done) return;
        yield next.value;
      }
    } finally {
      it.return?.();
    }
  }
  return { columns, rows: rows() };
}

function prepareReader(db: Database.Database, sql: string): Database.Statement {
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
  return stmt;
}

function sqlError(e: unknown): InputError {
  const message = (e as Error).message;
  if (e instanceof Database.SqliteError && e.code.startsWith('SQLITE_READONLY'))
    return new InputError(`query refused: the database is opened read-only (${message})`);
  return new InputError(`SQL error: ${message}`);
}

/** Open `path` read-only, hand the rows of `sql` to `use` as they come, close when it is done. */
export async function withQueryRows<T>(path: string, sql: string, use: (q: QueryRows) => Promise<T>): Promise<T> {
  const db = openReadOnly(path);
  try {
    return await use(iterateQuery(db, sql));
  } finally {
    db.close();
  }
}
