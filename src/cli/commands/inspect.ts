import { writeFileSync } from 'node:fs';
import { resolveDatabasePath } from '../../paths.js';
import { openReadOnly } from '../../storage/open.js';
import { runQuery } from '../../storage/query.js';
import { storedPhase, SweepStore, THROUGHPUT_WINDOW_MS } from '../../storage/store.js';
import { formatDuration } from '../../ui/format.js';
import { formatResult, parseFormat } from '../format.js';
import { queryInProcess, queryWithTimeLimit } from '../query-run.js';

/** Reads go through a read-only connection: inspecting never changes or locks out a running sweep. */
function withReadOnlyStore<T>(db: string | undefined, fn: (store: SweepStore) => T): T {
  const path = resolveDatabasePath(db);
  const store = new SweepStore(openReadOnly(path), path);
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

export function listCommand(options: { db?: string; format: string }): string {
  const format = parseFormat(options.format);
  return withReadOnlyStore(options.db, (store) => {
    const rows = store.listSweeps();
    return formatResult(
      {
        columns: ['sweep', 'total', 'done', 'running', 'pending', 'failed', 'updated'],
        rows: rows.map((s) => [
          s.name,
          s.total,
          s.done,
          s.running,
          s.pending,
          s.failed,
          new Date(s.updatedAt).toISOString(),
        ]),
      },
      format,
    );
  });
}

export function statusCommand(name: string | undefined, options: { db?: string }): string {
  return withReadOnlyStore(options.db, (store) => {
    const names = name ? [store.requireSweep(name).name] : store.listSweeps().map((s) => s.name);
    if (names.length === 0) return `no sweeps in ${store.path}\n`;
    const lines: string[] = [];
    const now = Date.now();
    for (const n of names) {
      const sweep = store.requireSweep(n);
      const c = store.counts(sweep.id);
      const lease = store.getLease(sweep.id);
      const live = lease && lease.expiresAt > now;
      const recent = store.finishedSince(sweep.id, now - THROUGHPUT_WINDOW_MS);
      let rate = '';
      if (recent.tasks >= 2 && recent.first !== null && recent.last !== null && recent.last > recent.first) {
        const span = (recent.last - recent.first) / 1000;
        const perMin = ((recent.tasks - 1) / span) * 60;
        const costRate = recent.cost / span;
        const eta = live && c.remainingCost > 0 ? `, eta ${formatDuration((c.remainingCost / costRate) * 1000)}` : '';
        rate = `; ${perMin.toFixed(1)} tasks/min over the last ${formatDuration(span * 1000)}${eta}`;
      }
      const phase = storedPhase(c, lease, now);
      const holder = live ? `running (pid ${lease.pid} on ${lease.host})` : phase;
      lines.push(
        `${n}: ${holder}; ${c.total} tasks: ${c.done} done, ${c.running} running, ${c.pending} pending, ${c.failed} failed${rate}`,
      );
    }
    return lines.join('\n') + '\n';
  });
}

export function exportCommand(
  name: string,
  options: { db?: string; format: string; out?: string; curves: boolean },
): string {
  const format = parseFormat(options.format, ['csv', 'json']);
  const path = resolveDatabasePath(options.db);
  const db = openReadOnly(path);
  let text: string;
  try {
    new SweepStore(db, path).requireSweep(name);
    const sql = options.curves
      ? `SELECT r.*, c.step, c.train_loss AS curve_train_loss, c.test_loss AS curve_test_loss, c.test_accuracy AS curve_test_accuracy
         FROM runs r JOIN curves c ON c.task_key = r.task_key WHERE r.sweep = ? ORDER BY r.task_key, c.step`
      : 'SELECT * FROM runs WHERE sweep = ? ORDER BY lr, batch_size, n_train, momentum, seed';
    text = formatResult(runQuery(db, sql, [name]), format);
  } finally {
    db.close();
  }
  if (options.out) {
    writeFileSync(options.out, text);
    return '';
  }
  return text;
}

export interface QueryOptions {
  db?: string;
  format: string;
  /** Seconds before the query is stopped; 0: no limit (the query then runs in this process). */
  timeout: number;
  /** Rows written at most (the cut is said on stderr); 0: no limit. */
  maxRows: number;
}

/** `bopt query`: one read-only statement, bounded in time and rows. Returns the exit code. */
export async function queryCommand(sql: string, options: QueryOptions): Promise<number> {
  const format = parseFormat(options.format);
  const path = resolveDatabasePath(options.db);
  if (options.timeout > 0) return queryWithTimeLimit({ sql, path, format, maxRows: options.maxRows }, options.timeout);
  return queryInProcess(sql, path, format, options.maxRows);
}
