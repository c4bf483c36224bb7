/**
 * Expected failures caused by the user's input or environment (bad sweep file, unknown parameter,
 * bad SQL, missing database, a refused lease), one class per kind. The core throws them with a
 * one-line message that names the culprit but no command-line flag or command; src/cli alone decides
 * the exit code from the class and names the flag (cli/errors.ts). Anything else is a bug and is
 * printed with its stack.
 */
export abstract class BoptError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Input that fails validation: a sweep file, a value, a query. */
export class InputError extends BoptError {}

/**
 * What each option that the core validates sets, by its name in the core's option objects; the CLI
 * maps each to its flag.
 */
export type OptionName = 'database' | 'retries' | 'queueUrl' | 'queueName' | 'queueSlots' | 'workers' | 'stallMs';

/** An option's value out of its range; the message says what was expected, without the flag. */
export class OptionError extends InputError {
  constructor(
    readonly option: OptionName,
    message: string,
  ) {
    super(message);
  }
}

/** A named thing that does not exist: a file, a sweep. */
export class NotFoundError extends BoptError {}

/** The database file does not exist (a read-only command was pointed at the wrong path). */
export class DatabaseNotFoundError extends NotFoundError {
  constructor(readonly path: string) {
    super(`database not found: ${path}`);
  }
}

/** A database bopt cannot use: damaged, unreadable, of another application or of a newer bopt. */
export class DatabaseError extends BoptError {}

/** The file is an SQLite database of another application. */
export class ForeignDatabaseError extends DatabaseError {}

/** The database stayed unwritable (locked or on a full disk) past the write retries; the run stopped. */
export class StoreUnwritableError extends DatabaseError {
  constructor(
    message: string,
    /** The sweep that stopped, to be resumed once the database is writable again. */
    readonly sweep: string,
  ) {
    super(message);
  }
}

/** The sweep is being run by another coordinator (its lease is held or was taken over). */
export class LockedError extends BoptError {}

/** An engine that is unknown, or not available on this machine. */
export class EngineError extends BoptError {}

/** The queue's Redis cannot be reached or used. */
export class QueueError extends BoptError {}

/**
 * Any thrown value as one line: its message (or its name), whitespace runs collapsed, at most 500
 * characters. What bopt stores as a task's error and shows in notes and logs.
 */
export function oneLine(e: unknown): string {
  const message = e instanceof Error ? e.message || e.name : String(e);
  return message.replace(/\s+/g, ' ').trim().slice(0, 500);
}
