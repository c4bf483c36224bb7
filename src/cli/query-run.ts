/**
 * `bopt query`, bounded. better-sqlite3 exposes no way to stop a running statement, and a worker
 * thread cannot be terminated while it is inside SQLite, so a query with a time limit runs in a child
 * process (query-process.ts) that is killed when the limit passes. Rows are written as they come
 * (csv, json), so memory does not grow with them; the row cap is said on stderr.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { InputError } from '../errors.js';
import { withQueryRows } from '../storage/query.js';
import { writeResult, type OutputFormat } from './format.js';

export const DEFAULT_QUERY_TIMEOUT_S = 30;
export const DEFAULT_QUERY_MAX_ROWS = 10_000;

export interface ChildQuery {
  sql: string;
  path: string;
  format: OutputFormat;
  maxRows: number;
}

/** Run the query here, writing rows to stdout as they come. Returns the exit code. */
export async function queryInProcess(
  sql: string,
  path: string,
  format: OutputFormat,
  maxRows: number,
): Promise<number> {
  return withQueryRows(path, sql, async ({ columns, rows }) => {
    const written = await writeResult(columns, rows, format, process.stdout, maxRows);
    if (written.truncated)
      process.stderr.write(
        `bopt: query: output stopped at ${written.rows} rows (--max-rows ${maxRows}); raise it with --max-rows N, 0 for no limit\n`,
      );
    return 0;
  });
}

/** Run the query in a child process killed after `timeoutS` seconds. Returns the exit code. */
export async function queryWithTimeLimit(request: ChildQuery, timeoutS: number): Promise<number> {
  const script = fileURLToPath(new URL('./query-process.js', import.meta.url));
  const child = spawn(process.execPath, [...process.execArgv, script, JSON.stringify(request)], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutS * 1000);
  // Ctrl-C reaches the child from the terminal too; a signal sent to this process alone must not orphan it.
  const forward = (): void => {
    child.kill('SIGKILL');
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  try {
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    if (timedOut)
      throw new InputError(
        `query stopped: it ran past the time limit of ${timeoutS} s (raise it with --timeout SECONDS, 0 for no limit)`,
      );
    if (signal) return 130;
    return code ?? 1;
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
  }
}
