/**
 * The single record of a sweep's truth: sweeps, tasks and their states, results, leases. Synchronous
 * (better-sqlite3), prepared statements, and every state change that goes with a result in one
 * transaction, so that a crash at any instant leaves either the result and `done`, or neither.
 */
import { hostname } from 'node:os';
import type Database from 'better-sqlite3';
import type { TrainConfig } from '../engines/config.js';
import type { TrainResult } from '../engines/types.js';
import { ENGINE_VERSIONS } from '../engines/versions.js';
import { LockedError, NotFoundError } from '../errors.js';
import { sweepTasks } from '../sweep/grid.js';
import type { ExpandedTask, LoadedSweep } from '../sweep/types.js';
import { writeFit, type StoredFit } from './fits.js';
import { GridRegistration } from './registration.js';

/** The shape of a stored fit, which src/analysis builds its fit types on. */
export type { StoredFit, StoredFitGroup, StoredFitLine, StoredFitPoint } from './fits.js';
import { openReadOnly, openWritable, type OpenOptions } from './open.js';
import { SweepReader } from './reader.js';

export type TaskState = 'pending' | 'running' | 'done' | 'failed';

/** Tasks of a sweep in each state. */
export interface StateCounts {
  pending: number;
  running: number;
  done: number;
  failed: number;
}

export interface SweepRecord {
  id: number;
  name: string;
  file: string | null;
  spec: string;
  specHash: string;
  codeVersion: string;
  createdAt: number;
  updatedAt: number;
}

export interface TaskRecord {
  key: string;
  params: TrainConfig;
  cost: number;
  state: TaskState;
  /** Failed attempts so far (an interrupted or reclaimed attempt does not count). */
  attempts: number;
  lastError: string | null;
}

/** A finished task's outcome as a search reads it: accuracy null when it failed or diverged. */
export interface TaskOutcome {
  key: string;
  state: TaskState;
  testAccuracy: number | null;
}

export interface SweepSummary extends StateCounts {
  name: string;
  total: number;
  updatedAt: number;
}

export interface LeaseRecord {
  holder: string;
  pid: number;
  host: string;
  heartbeatAt: number;
  expiresAt: number;
}

export interface RegisterOutcome {
  sweepId: number;
  /** Tasks new to the database (not trained before in any sweep). */
  inserted: number;
  /** Tasks of the sweep once registered. */
  total: number;
}

/** Where a page of a sweep's pending tasks ended, in dispatch order: the next page starts after it. */
export interface DispatchCursor {
  cost: number;
  position: number;
}

export interface ProgressRow {
  key: string;
  /** The coordinator's lane (0 … lanes - 1), stored in progress.lane. */
  lane: number;
  step: number;
  totalSteps: number;
  loss: number;
}

interface TaskRow {
  key: string;
  params: string;
  cost: number;
  state: TaskState;
  attempts: number;
  last_error: string | null;
}

interface PageRow extends TaskRow {
  order_cost: number;
  position: number;
}

const PAGE_SELECT = `SELECT t.key, t.params, t.cost, t.state, t.attempts, t.last_error, st.cost AS order_cost, st.position
  FROM sweep_tasks st INDEXED BY sweep_tasks_dispatch JOIN tasks t ON t.key = st.task_key`;

const toTask = (r: TaskRow): TaskRecord => ({
  key: r.key,
  params: JSON.parse(r.params) as TrainConfig,
  cost: r.cost,
  state: r.state,
  attempts: r.attempts,
  lastError: r.last_error,
});

/** Whether a process of this host is alive (signal 0 probes without touching it). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SQLite cannot store NaN (it becomes NULL) — be explicit about it. */
const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

export class SweepStore {
  private readonly stmt;
  private reads: SweepReader | undefined;

  constructor(
    private readonly db: Database.Database,
    readonly path: string,
  ) {
    // Prepared on first use: a read-only store opened on an older schema (not migrated) prepares only
    // the statements its command runs, never one naming a column that schema does not have yet.
    const lazy = (sql: string): (() => Database.Statement) => {
      let stmt: Database.Statement | undefined;
      return () => (stmt ??= db.prepare(sql));
    };
    this.stmt = {
      sweepByName: lazy('SELECT * FROM sweeps WHERE name = ?'),
      insertSweep: lazy(
        `INSERT INTO sweeps (name, file, spec, spec_hash, code_version, created_at, updated_at)
         VALUES (@name, @file, @spec, @specHash, @codeVersion, @now, @now)
         ON CONFLICT (name) DO UPDATE SET file = @file, spec = @spec, spec_hash = @specHash,
           code_version = @codeVersion, updated_at = @now
         RETURNING id`,
      ),
      insertTask: lazy(
        `INSERT OR IGNORE INTO tasks (key, params, engine, engine_version, cost, created_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ),
      outcome: lazy(
        `SELECT t.state, r.test_accuracy, r.diverged FROM tasks t LEFT JOIN results r ON r.task_key = t.key WHERE t.key = ?`,
      ),
      insertMember: lazy('INSERT OR IGNORE INTO sweep_tasks (sweep_id, task_key, position, cost) VALUES (?, ?, ?, ?)'),
      counts: lazy(
        `SELECT count(*) AS total,
                coalesce(sum(t.state = 'pending'), 0) AS pending, coalesce(sum(t.state = 'running'), 0) AS running,
                coalesce(sum(t.state = 'done'), 0) AS done, coalesce(sum(t.state = 'failed'), 0) AS failed,
                coalesce(sum(t.cost), 0) AS totalCost,
                coalesce(sum(CASE WHEN t.state IN ('pending', 'running') THEN t.cost ELSE 0 END), 0) AS remainingCost
         FROM sweep_tasks st JOIN tasks t ON t.key = st.task_key WHERE st.sweep_id = ?`,
      ),
      pending: lazy(
        `SELECT t.key, t.params, t.cost, t.state, t.attempts, t.last_error
         FROM sweep_tasks st JOIN tasks t ON t.key = st.task_key
         WHERE st.sweep_id = ? AND t.state = 'pending'
         ORDER BY t.cost DESC, st.position`,
      ),
      // Pages of pending tasks in dispatch order, walking the sweep_tasks_dispatch index from a cursor:
      // the first page, the rest of the cursor's cost (ties, by position), then the lower costs.
      pageFirst: lazy(
        `${PAGE_SELECT} WHERE st.sweep_id = ? AND t.state = 'pending' ORDER BY st.cost DESC, st.position LIMIT ?`,
      ),
      pageTies: lazy(
        `${PAGE_SELECT} WHERE st.sweep_id = ? AND st.cost = ? AND st.position > ? AND t.state = 'pending'
         ORDER BY st.cost DESC, st.position LIMIT ?`,
      ),
      pageBelow: lazy(
        `${PAGE_SELECT} WHERE st.sweep_id = ? AND st.cost < ? AND t.state = 'pending'
         ORDER BY st.cost DESC, st.position LIMIT ?`,
      ),
      pendingByKey: lazy(
        `SELECT key, params, cost, state, attempts, last_error FROM tasks WHERE key = ? AND state = 'pending'`,
      ),
      memberCount: lazy('SELECT count(*) AS n FROM sweep_tasks WHERE sweep_id = ?'),
      registered: lazy('SELECT registered FROM sweeps WHERE id = ?'),
      markRegistered: lazy('UPDATE sweeps SET registered = ? WHERE id = ?'),
      claim: lazy(
        `UPDATE tasks SET state = 'running', holder = ?, worker = NULL, started_at = ?
         WHERE key = ? AND state = 'pending' RETURNING attempts`,
      ),
      insertResult: lazy(
        `INSERT OR IGNORE INTO results (task_key, train_accuracy, train_loss, test_accuracy, test_loss, steps_done,
           diverged, wall_ms, engine, engine_version, backend, worker, log_evidence, log_evidence_per_example, created_at)
         VALUES (@key, @trainAccuracy, @trainLoss, @testAccuracy, @testLoss, @stepsDone, @diverged, @wallMs,
           @engine, @engineVersion, @backend, @worker, @logEvidence, @logEvidencePerExample, @now)`,
      ),
      hasResult: lazy('SELECT 1 FROM results WHERE task_key = ?'),
      insertCurve: lazy(
        'INSERT OR IGNORE INTO curves (task_key, step, train_loss, test_loss, test_accuracy) VALUES (?, ?, ?, ?, ?)',
      ),
      markDone: lazy(
        `UPDATE tasks SET state = 'done', holder = NULL, worker = ?, finished_at = ?, last_error = NULL WHERE key = ?`,
      ),
      markFailedAttempt: lazy(
        `UPDATE tasks SET state = ?, holder = NULL, worker = ?, attempts = attempts + 1, last_error = ?, finished_at = ?
         WHERE key = ? AND state = 'running' AND holder = ?`,
      ),
      releaseHolder: lazy(`UPDATE tasks SET state = 'pending', holder = NULL WHERE state = 'running' AND holder = ?`),
      releaseOne: lazy(
        `UPDATE tasks SET state = 'pending', holder = NULL WHERE key = ? AND state = 'running' AND holder = ?`,
      ),
      // EXISTS, not IN (SELECT ...): one index probe per running task instead of a list of the whole sweep.
      reclaim: lazy(
        `UPDATE tasks SET state = 'pending', holder = NULL
         WHERE state = 'running'
           AND EXISTS (SELECT 1 FROM sweep_tasks st WHERE st.sweep_id = ? AND st.task_key = tasks.key)
           AND (holder IS NULL OR holder NOT IN (SELECT holder FROM leases WHERE expires_at > ?))`,
      ),
      dropOrphanProgress: lazy(
        'DELETE FROM progress WHERE holder NOT IN (SELECT holder FROM leases WHERE expires_at > ?)',
      ),
      resetFailed: lazy(
        `UPDATE tasks SET state = 'pending', attempts = 0, last_error = NULL
         WHERE state = 'failed'
           AND EXISTS (SELECT 1 FROM sweep_tasks st WHERE st.sweep_id = ? AND st.task_key = tasks.key)`,
      ),
      lease: lazy(
        'SELECT holder, pid, host, heartbeat_at AS heartbeatAt, expires_at AS expiresAt FROM leases WHERE sweep_id = ?',
      ),
      allLeases: lazy('SELECT sweep_id AS sweepId, holder, pid, host, expires_at AS expiresAt FROM leases'),
      putLease: lazy(
        `INSERT INTO leases (sweep_id, holder, pid, host, acquired_at, heartbeat_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (sweep_id) DO UPDATE SET holder = excluded.holder, pid = excluded.pid, host = excluded.host,
           acquired_at = excluded.acquired_at, heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at`,
      ),
      renewLease: lazy('UPDATE leases SET heartbeat_at = ?, expires_at = ? WHERE sweep_id = ? AND holder = ?'),
      dropLease: lazy('DELETE FROM leases WHERE sweep_id = ? AND holder = ?'),
      dropLeaseById: lazy('DELETE FROM leases WHERE sweep_id = ?'),
      upsertProgress: lazy(
        `INSERT INTO progress (task_key, holder, lane, step, total_steps, loss, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (task_key) DO UPDATE SET holder = excluded.holder, lane = excluded.lane, step = excluded.step,
           total_steps = excluded.total_steps, loss = excluded.loss, updated_at = excluded.updated_at`,
      ),
      dropProgress: lazy('DELETE FROM progress WHERE task_key = ?'),
      dropHolderProgress: lazy('DELETE FROM progress WHERE holder = ?'),
      recent: lazy(
        `SELECT count(*) AS tasks, coalesce(sum(t.cost), 0) AS cost, min(t.finished_at) AS first, max(t.finished_at) AS last
         FROM sweep_tasks st JOIN tasks t ON t.key = st.task_key
         WHERE st.sweep_id = ? AND t.state = 'done' AND t.finished_at >= ?`,
      ),
      summaries: lazy(
        `SELECT s.name, s.updated_at AS updatedAt, count(t.key) AS total,
                coalesce(sum(t.state = 'pending'), 0) AS pending, coalesce(sum(t.state = 'running'), 0) AS running,
                coalesce(sum(t.state = 'done'), 0) AS done, coalesce(sum(t.state = 'failed'), 0) AS failed
         FROM sweeps s LEFT JOIN sweep_tasks st ON st.sweep_id = s.id LEFT JOIN tasks t ON t.key = st.task_key
         GROUP BY s.id ORDER BY s.updated_at DESC`,
      ),
    };
  }

  static open(path: string, options: OpenOptions = {}): SweepStore {
    return new SweepStore(openWritable(path, options), path);
  }

  /** An existing database, read-only: SQLite itself refuses any write through it. */
  static openReadOnly(path: string): SweepStore {
    return new SweepStore(openReadOnly(path), path);
  }

  /** The analysis's, `bopt watch`'s, `bopt export`'s and `bopt plan`'s reads, on this connection. */
  get reader(): SweepReader {
    return (this.reads ??= new SweepReader(this.db));
  }

  /**
   * Record a sweep's spec and take its lease in one write transaction, the lease checked first: a run
   * refused because the sweep is live elsewhere writes nothing. The tasks follow with registerTasks.
   */
  registerAndLease(sweep: LoadedSweep, codeVersion: string, holder: string, ttlMs: number): { sweepId: number } {
    return this.db
      .transaction((): { sweepId: number } => {
        const existing = this.getSweep(sweep.name);
        if (existing) this.acquireLease(existing.id, sweep.name, holder, ttlMs);
        const sweepId = this.upsertSweep(sweep, codeVersion, Date.now());
        this.acquireLease(sweepId, sweep.name, holder, ttlMs);
        return { sweepId };
      })
      .immediate();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /**
   * Record a sweep and all its tasks, idempotently and in one transaction: a task already known (from
   * this sweep or another) is only linked, never reset, so finished work is never repeated.
   */
  registerSweep(sweep: LoadedSweep, codeVersion: string, now: number = Date.now()): RegisterOutcome {
    return this.db.transaction((): RegisterOutcome => {
      const sweepId = this.upsertSweep(sweep, codeVersion, now);
      const registration = this.beginRegistration(sweepId, now);
      let inserted: number;
      try {
        registration.stage(sweepTasks(sweep)[Symbol.iterator](), 0, Infinity);
        inserted = registration.storeAll().inserted;
      } finally {
        registration.discard();
      }
      return { sweepId, inserted, total: (this.stmt.memberCount().get(sweepId) as { n: number }).n };
    })();
  }

  private upsertSweep(sweep: LoadedSweep, codeVersion: string, now: number): number {
    const { id } = this.stmt.insertSweep().get({
      name: sweep.name,
      file: sweep.file,
      spec: sweep.specText,
      specHash: sweep.specHash,
      codeVersion,
      now,
    }) as { id: number };
    return id;
  }

  /**
   * Link up to `max` tasks from `tasks` to the sweep, in one transaction, inserting those new to the
   * database: tasks[i] is the sweep's point firstPosition + i; a key seen before keeps its first
   * position. Idempotent, so a registration cut short is completed by registering again. `taken` is
   * how many were read from the iterator, `ended` whether it is exhausted.
   */
  registerTasks(
    sweepId: number,
    tasks: Iterator<ExpandedTask>,
    firstPosition: number,
    max: number,
    now: number = Date.now(),
  ): { inserted: number; taken: number; ended: boolean } {
    const registration = this.beginRegistration(sweepId, now);
    try {
      const { taken, ended } = registration.stage(tasks, firstPosition, max);
      const { inserted } = registration.storeAll();
      return { inserted, taken, ended };
    } finally {
      registration.discard();
    }
  }

  /**
   * A registration of many tasks: stage() copies them into a temporary table of this connection
   * (nothing of the database is written), then storeNext() stores them in write transactions of
   * whole key ranges, each sorted by key. Random hashed keys inserted in grid order touch a random
   * page of two key-ordered B-trees per task; in key order the pages are written one after another.
   */
  beginRegistration(sweepId: number, now: number = Date.now()): GridRegistration {
    return new GridRegistration(this.db, sweepId, now);
  }
  /**
   * Add tasks to a registered sweep while it runs (an adaptive search's next round), idempotently and
   * in one transaction, after its current members; returns those of them still pending.
   */
  addTasks(sweepId: number, tasks: readonly ExpandedTask[], now: number = Date.now()): TaskRecord[] {
    return this.db.transaction((): TaskRecord[] => {
      let position = (this.stmt.memberCount().get(sweepId) as { n: number }).n;
      const pending: TaskRecord[] = [];
      for (const t of tasks) {
        this.stmt
          .insertTask()
          .run(t.key, JSON.stringify(t.params), t.params.engine, ENGINE_VERSIONS[t.params.engine], t.cost, now);
        position += this.stmt.insertMember().run(sweepId, t.key, position, t.cost).changes;
        const row = this.stmt.pendingByKey().get(t.key) as TaskRow | undefined;
        if (row) pending.push(toTask(row));
      }
      return pending;
    })();
  }

  /** The fingerprint of the grid whose tasks are all stored for this sweep (null: none recorded). */
  registeredGrid(sweepId: number): string | null {
    const row = this.stmt.registered().get(sweepId) as { registered: string | null } | undefined;
    return row?.registered ?? null;
  }

  /** Record that every task of the grid with this fingerprint is stored (see registeredGrid). */
  markRegistered(sweepId: number, fingerprint: string | null): void {
    this.stmt.markRegistered().run(fingerprint, sweepId);
  }

  getSweep(name: string): SweepRecord | undefined {
    const r = this.stmt.sweepByName().get(name) as
      | {
          id: number;
          name: string;
          file: string | null;
          spec: string;
          spec_hash: string;
          code_version: string;
          created_at: number;
          updated_at: number;
        }
      | undefined;
    if (!r) return undefined;
    return {
      id: r.id,
      name: r.name,
      file: r.file,
      spec: r.spec,
      specHash: r.spec_hash,
      codeVersion: r.code_version,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    };
  }

  requireSweep(name: string): SweepRecord {
    const s = this.getSweep(name);
    if (!s) {
      const known = this.listSweeps().map((x) => x.name);
      throw new NotFoundError(
        `unknown sweep "${name}" in ${this.path}${known.length ? ` (known: ${known.join(', ')})` : ' (no sweeps yet)'}`,
      );
    }
    return s;
  }

  listSweeps(): SweepSummary[] {
    return this.stmt.summaries().all() as SweepSummary[];
  }

  counts(sweepId: number): StateCounts & { total: number; totalCost: number; remainingCost: number } {
    return this.stmt.counts().get(sweepId) as StateCounts & { total: number; totalCost: number; remainingCost: number };
  }

  /** Tasks finished since `since` and their cost, for throughput and ETA. */
  finishedSince(
    sweepId: number,
    since: number,
  ): { tasks: number; cost: number; first: number | null; last: number | null } {
    return this.stmt.recent().get(sweepId, since) as {
      tasks: number;
      cost: number;
      first: number | null;
      last: number | null;
    };
  }

  /** Outcomes of the finished (done or failed) tasks among `keys`, by key; unknown or unfinished keys are absent. */
  finishedOutcomes(keys: readonly string[]): Map<string, TaskOutcome> {
    const out = new Map<string, TaskOutcome>();
    for (const key of keys) {
      const r = this.stmt.outcome().get(key) as
        { state: TaskState; test_accuracy: number | null; diverged: number | null } | undefined;
      if (!r || (r.state !== 'done' && r.state !== 'failed')) continue;
      const usable = r.state === 'done' && r.diverged === 0 && r.test_accuracy !== null;
      out.set(key, { key, state: r.state, testAccuracy: usable ? r.test_accuracy : null });
    }
    return out;
  }

  /** Pending tasks of a sweep, most expensive first so that the sweep does not end on one straggler. */
  pendingTasks(sweepId: number): TaskRecord[] {
    return (this.stmt.pending().all(sweepId) as TaskRow[]).map(toTask);
  }

  /**
   * The next `limit` pending tasks of a sweep in dispatch order (most expensive first, then grid
   * order) after `after` (null: from the start), read from an index: memory and time per page do not
   * grow with the sweep. `next` is where this page ended (null when it is empty).
   */
  pendingPage(
    sweepId: number,
    after: DispatchCursor | null,
    limit: number,
  ): { tasks: TaskRecord[]; next: DispatchCursor | null } {
    let rows: PageRow[];
    if (after === null) {
      rows = this.stmt.pageFirst().all(sweepId, limit) as PageRow[];
    } else {
      rows = this.stmt.pageTies().all(sweepId, after.cost, after.position, limit) as PageRow[];
      if (rows.length < limit)
        rows = rows.concat(this.stmt.pageBelow().all(sweepId, after.cost, limit - rows.length) as PageRow[]);
    }
    const last = rows.at(-1);
    return { tasks: rows.map(toTask), next: last ? { cost: last.order_cost, position: last.position } : after };
  }

  /** Move a pending task to running under `holder`; null when another coordinator got it first. */
  claimTask(key: string, holder: string, now: number = Date.now()): { attempts: number } | null {
    const row = this.stmt.claim().get(holder, now, key) as { attempts: number } | undefined;
    return row ?? null;
  }

  /**
   * Store a result and mark its task done, atomically. A result that arrives twice (a duplicate
   * completion, a resumed sweep) is stored once: returns false for the duplicate.
   */
  completeTask(key: string, result: TrainResult, worker: string, now: number = Date.now()): boolean {
    return this.db.transaction((): boolean => {
      const { changes } = this.stmt.insertResult().run({
        key,
        trainAccuracy: finiteOrNull(result.trainAccuracy),
        trainLoss: finiteOrNull(result.trainLoss),
        testAccuracy: finiteOrNull(result.testAccuracy),
        testLoss: finiteOrNull(result.testLoss),
        stepsDone: result.stepsDone,
        diverged: result.diverged ? 1 : 0,
        wallMs: result.wallMs,
        engine: result.engine,
        engineVersion: result.engineVersion,
        backend: result.backend,
        worker,
        logEvidence: result.evidence ? finiteOrNull(result.evidence.logEvidenceRatio) : null,
        logEvidencePerExample: result.evidence ? finiteOrNull(result.evidence.perExample) : null,
        now,
      });
      if (changes === 1) {
        for (const p of result.curve) {
          this.stmt
            .insertCurve()
            .run(key, p.step, finiteOrNull(p.trainLoss), finiteOrNull(p.testLoss), finiteOrNull(p.testAccuracy));
        }
      }
      this.stmt.markDone().run(worker, now, key);
      this.stmt.dropProgress().run(key);
      return changes === 1;
    })();
  }

  /** Whether the task's result is stored (SQLite is the only truth of what is done). */
  hasResult(key: string): boolean {
    return this.stmt.hasResult().get(key) !== undefined;
  }

  /** Replace the stored B_opt fit of a sweep (tables fits, fit_points, fit_lines). */
  saveFit(sweep: string, fit: StoredFit, now: number = Date.now()): void {
    writeFit(this.db, sweep, fit, now);
  }

  /** A failed attempt: back to pending for a retry, or failed for good. */
  recordFailure(
    key: string,
    holder: string,
    worker: string,
    error: string,
    final: boolean,
    now: number = Date.now(),
  ): void {
    this.db.transaction(() => {
      this.stmt.markFailedAttempt().run(final ? 'failed' : 'pending', worker, error, now, key, holder);
      this.stmt.dropProgress().run(key);
    })();
  }

  /** Return one running task to pending without counting an attempt (interrupted, not failed). */
  releaseTask(key: string, holder: string): void {
    this.db.transaction(() => {
      this.stmt.releaseOne().run(key, holder);
      this.stmt.dropProgress().run(key);
    })();
  }

  /** Return every task `holder` is running to pending (Ctrl-C). */
  releaseAll(holder: string): number {
    return this.db.transaction((): number => {
      this.stmt.dropHolderProgress().run(holder);
      return this.stmt.releaseHolder().run(holder).changes;
    })();
  }

  /** Running tasks of a sweep whose coordinator is gone (its lease expired or was taken over) go back to pending. */
  reclaimOrphans(sweepId: number, now: number = Date.now()): number {
    return this.db.transaction((): number => {
      this.stmt.dropOrphanProgress().run(now); // step-level progress a dead coordinator left behind
      return this.stmt.reclaim().run(sweepId, now).changes;
    })();
  }

  /** --retry-failed: failed tasks of the sweep become pending with a fresh retry budget. */
  resetFailed(sweepId: number): number {
    return this.stmt.resetFailed().run(sweepId).changes;
  }

  getLease(sweepId: number): LeaseRecord | undefined {
    return this.stmt.lease().get(sweepId) as LeaseRecord | undefined;
  }

  /**
   * Take the sweep's lease, or refuse with a message naming the live holder. A lease is dead when it
   * expired, or when its process is gone on this host (so `kill -9` then resume needs no waiting).
   */
  acquireLease(sweepId: number, sweepName: string, holder: string, ttlMs: number, now: number = Date.now()): void {
    const host = hostname();
    this.db
      .transaction(() => {
        const current = this.getLease(sweepId);
        if (current && current.holder !== holder) {
          const dead = current.expiresAt <= now || (current.host === host && !processAlive(current.pid));
          if (!dead) {
            const age = Math.round((now - current.heartbeatAt) / 1000);
            throw new LockedError(
              `sweep "${sweepName}" is already being run by pid ${current.pid} on ${current.host} (heartbeat ${age}s ago); ` +
                `stop that coordinator first, or wait ${Math.ceil((current.expiresAt - now) / 1000)}s for its lease to expire`,
            );
          }
        }
        this.purgeDeadLeases(host, now);
        this.stmt.putLease().run(sweepId, holder, process.pid, host, now, now, now + ttlMs);
      })
      .immediate();
  }

  /** Leases of processes that are gone on this host are removed, so their tasks count as orphans. */
  private purgeDeadLeases(host: string, now: number): void {
    for (const l of this.stmt.allLeases().all() as Array<{
      sweepId: number;
      holder: string;
      pid: number;
      host: string;
      expiresAt: number;
    }>) {
      if (l.expiresAt <= now || (l.host === host && !processAlive(l.pid))) this.stmt.dropLeaseById().run(l.sweepId);
    }
  }

  /** Heartbeat. False when the lease was taken over by someone else (this coordinator must stop). */
  renewLease(sweepId: number, holder: string, ttlMs: number, now: number = Date.now()): boolean {
    return this.stmt.renewLease().run(now, now + ttlMs, sweepId, holder).changes === 1;
  }

  releaseLease(sweepId: number, holder: string): void {
    this.stmt.dropLease().run(sweepId, holder);
  }

  /** Publish step-level progress of running tasks for `bopt watch` (one transaction per batch). */
  publishProgress(holder: string, rows: ProgressRow[], now: number = Date.now()): void {
    if (rows.length === 0) return;
    this.db.transaction(() => {
      for (const r of rows)
        this.stmt.upsertProgress().run(r.key, holder, r.lane, r.step, r.totalSteps, finiteOrNull(r.loss), now);
    })();
  }
}
