/**
 * How the CLI reports an expected failure: the exit code of each error class, and the flag or command
 * the user acts on, which the core's messages do not name (the core knows no command line).
 */
import {
  BoptError,
  DatabaseNotFoundError,
  ForeignDatabaseError,
  LockedError,
  OptionError,
  StoreUnwritableError,
  type OptionName,
} from '../errors.js';

export const EXIT_BAD_INPUT = 2;
export const EXIT_LOCKED = 3;
export const EXIT_DATABASE_UNWRITABLE = 4;

/** The flag that sets each option the core validates. */
export const OPTION_FLAGS: Record<OptionName, string> = {
  database: '--db',
  retries: '--retries',
  queueUrl: '--queue',
  queueName: '--queue-name',
  queueSlots: '--queue-slots',
  workers: '--workers',
  stallMs: '--stall-ms',
};

/** README "Command line": 2 bad input (and any other expected failure), 3 locked, 4 database unwritable. */
export function exitCodeOf(e: BoptError): number {
  if (e instanceof LockedError) return EXIT_LOCKED;
  if (e instanceof StoreUnwritableError) return EXIT_DATABASE_UNWRITABLE;
  return EXIT_BAD_INPUT;
}

/** The one line printed after `bopt: `: the core's message with the flag or command that fixes it. */
export function describeError(e: BoptError): string {
  if (e instanceof OptionError) return `${OPTION_FLAGS[e.option]}: ${e.message}`;
  if (e instanceof DatabaseNotFoundError)
    return `${e.message} (run \`bopt run SWEEP_FILE\` first, or pass --db / set BOPT_DB)`;
  if (e instanceof ForeignDatabaseError) return `${e.message}; pass another --db`;
  if (e instanceof StoreUnwritableError)
    return `${e.message}. Unrecorded tasks return to pending: bopt resume ${e.sweep}`;
  return e.message;
}
