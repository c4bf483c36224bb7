/**
 * SQLite failures translated into what a user can act on. The storage layer is the only place that
 * knows SQLite's error codes; callers get a DatabaseError naming the file and the problem, or ask
 * whether a write failure is transient (a lock, a full disk) and worth retrying.
 */
import Database from 'better-sqlite3';
import { BoptError, DatabaseError } from '../errors.js';

/** The databases this process opened, most recent last: a failure deep in a query names its file. */
const opened: string[] = [];

export function noteOpened(path: string): void {
  opened.push(path);
  if (opened.length > 8) opened.shift();
}

const sqliteCode = (e: unknown): string | undefined =>
  e instanceof Database.SqliteError ? e.code : (e as NodeJS.ErrnoException | undefined)?.code;

/** A short description of what is wrong with the database, from SQLite's error code. */
export function describeProblem(e: unknown): string {
  const code = sqliteCode(e) ?? '';
  const message = e instanceof Error ? e.message : String(e);
  if (code === 'SQLITE_NOTADB') return 'not an SQLite database, or its header is damaged';
  if (code.startsWith('SQLITE_CORRUPT')) return `damaged (${message})`;
  if (code.startsWith('SQLITE_READONLY') || code === 'EACCES' || code === 'EROFS' || code === 'EPERM')
    return `not writable (${message}): check the permissions of the file and of its folder`;
  if (code.startsWith('SQLITE_CANTOPEN'))
    return `cannot be opened (${message}): check the path and its folder's permissions`;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
    return 'locked by another connection that holds its write lock (another bopt run, or an sqlite3 shell in a transaction)';
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') return 'on a full disk';
  if (code.startsWith('SQLITE_IOERR')) return `an I/O error (${message})`;
  return message;
}

/** Whether `e` is an SQLite (or file-system) error, as opposed to a bug. */
export function isDatabaseError(e: unknown): boolean {
  return e instanceof Database.SqliteError;
}

export function isBusy(e: unknown): boolean {
  const code = sqliteCode(e) ?? '';
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}

/** A lock held elsewhere or a full disk: the same write may succeed later. */
export function isTransientWriteError(e: unknown): boolean {
  const code = sqliteCode(e) ?? '';
  return (
    code.startsWith('SQLITE_BUSY') ||
    code.startsWith('SQLITE_LOCKED') ||
    code === 'SQLITE_FULL' ||
    code.startsWith('SQLITE_IOERR')
  );
}

export function databaseError(path: string, e: unknown): BoptError {
  if (e instanceof BoptError) return e;
  return new DatabaseError(`database ${path}: ${describeProblem(e)}`, { cause: e });
}

/** An SQLite error that escaped a command, as a one-line error naming the last database opened. */
export function escapedDatabaseError(e: unknown): BoptError {
  return databaseError(opened.at(-1) ?? '(unknown file)', e);
}
