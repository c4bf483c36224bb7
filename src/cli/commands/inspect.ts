import { writeFileSync } from 'node:fs';
import { resolveDatabasePath } from '../../paths.js';
import { queryReadOnly } from '../../storage/query.js';
import { storedProgress } from '../../scheduler/progress.js';
import { SweepStore } from '../../storage/store.js';
import { formatDuration } from '../../ui/format.js';
import { formatResult, parseFormat } from '../format.js';

/** Reads go through a read-only connection: inspecting never changes or locks out a running sweep. */
function withReadOnlyStore<T>(db: string | undefined, fn: (store: SweepStore) => T): T {
  const path = resolveDatabasePath(db);
  const store = SweepStore.openReadOnly(path);
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
      const p = storedProgress(store, sweep.id, now);
      const c = p.counts;
      const eta = p.live && p.etaMs !== null && p.etaMs > 0 ? `, eta ${formatDuration(p.etaMs)}` : '';
      const rate =
        p.tasksPerMinute !== null
          ? `; ${p.tasksPerMinute.toFixed(1)} tasks/min over the last ${formatDuration(p.spanMs)}${eta}`
          : '';
      const holder = p.live ? `running (pid ${p.live.pid} on ${p.live.host})` : p.phase;
      lines.push(
        `${n}: ${holder}; ${c.total} tasks: ${c.done} done, ${c.running} running, ${c.pending} pending, ${c.failed} failed${rate}`,
      );
    }
    return lines.join('\n') + '\n';
  });
}

export function queryCommand(sql: string, options: { db?: string; format: string }): string {
  const format = parseFormat(options.format);
  return formatResult(queryReadOnly(resolveDatabasePath(options.db), sql), format);
}

export function exportCommand(
  name: string,
  options: { db?: string; format: string; out?: string; curves: boolean },
): string {
  const format = parseFormat(options.format, ['csv', 'json']);
  const text = withReadOnlyStore(options.db, (store) => {
    store.requireSweep(name);
    return formatResult(store.reader.exportRuns(name, options.curves), format);
  });
  if (options.out) {
    writeFileSync(options.out, text);
    return '';
  }
  return text;
}
