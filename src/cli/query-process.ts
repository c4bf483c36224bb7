/**
 * The child process of `bopt query` with a time limit: runs one query and writes its rows to the
 * inherited stdout, until done or killed by its parent. It imports only what a query needs, so it
 * starts faster than the whole command line. Argument: the QueryOptions and SQL as one JSON string.
 */
import { BoptError } from '../errors.js';
import { escapedDatabaseError, isDatabaseError } from '../storage/problems.js';
import { describeError, exitCodeOf } from './errors.js';
import { queryInProcess, type ChildQuery } from './query-run.js';

try {
  const request = JSON.parse(process.argv[2] ?? '') as ChildQuery;
  process.exitCode = await queryInProcess(request.sql, request.path, request.format, request.maxRows);
} catch (caught) {
  const e = isDatabaseError(caught) ? escapedDatabaseError(caught) : caught;
  if (e instanceof BoptError) {
    process.stderr.write(`bopt: ${describeError(e)}\n`);
    process.exitCode = exitCodeOf(e);
  } else {
    process.stderr.write(`bopt: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  }
}
