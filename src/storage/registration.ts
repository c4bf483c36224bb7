/**
 * Storing a grid's tasks in key order. A task's key is a hash, so a grid in its own order inserts
 * into the key-ordered B-trees (tasks by key, sweep memberships by key) at random pages: once those
 * trees outgrow the page cache every task costs page reads, and every write transaction rewrites
 * most of their pages. The tasks are therefore first copied into temporary tables of the connection
 * (nothing of the database written), one per key range (the first hex digit of the key), and each
 * range is then inserted sorted by key: the pages of the trees are visited in order.
 */
import type Database from 'better-sqlite3';
import { ENGINE_VERSIONS } from '../engines/versions.js';
import { KEY_CHARS, batchTexts } from '../sweep/batches.js';
import type { ExpandedTask, TaskBatch } from '../sweep/types.js';

/** Key ranges (first hex digit of the key). */
const RANGES = 16;
/** Page cache while storing (KiB): the trees' pages of a range stay in memory during its insert. */
const STORE_CACHE_KIB = 65_536;
/** Page cache of the staging tables and the sorts (KiB). */
const STAGE_CACHE_KIB = 32_768;
/**
 * Rows per staging INSERT: one statement of many rows costs one call into SQLite instead of one per
 * task (the per-call overhead of better-sqlite3 is most of a small row's insert).
 */
const STAGE_ROWS = 64;
const STAGE_COLUMNS = 6;

/** Tasks of a batch whose texts are decoded at once (see batchTexts). */
const DECODED_TASKS = 256;

/** The value of a lowercase hex digit's character code (0-9, a-f); -1 for any other. */
const hexDigit = (code: number): number =>
  code >= 48 && code <= 57 ? code - 48 : code >= 97 && code <= 102 ? code - 87 : -1;

const stageTable = (range: number): string => `temp.register_stage_${range.toString(16)}`;

export class GridRegistration {
  private readonly counts = new Array<number>(RANGES).fill(0);
  /** Staged values not yet inserted, per range (at most STAGE_ROWS rows each). */
  private readonly pending: unknown[][] = Array.from({ length: RANGES }, () => []);
  private nextRange = 0;
  private staged = 0;
  private readonly insertStaged: Database.Statement[] = [];
  private readonly insertStagedMany: Database.Statement[] = [];
  private readonly storeTasks: Database.Statement[] = [];
  private readonly storeMembers: Database.Statement[] = [];
  private readonly sweepExists: Database.Statement;
  private readonly cacheBefore: number;
  private readonly tempCacheBefore: number;
  private discarded = false;

  constructor(
    private readonly db: Database.Database,
    private readonly sweepId: number,
    private readonly now: number,
  ) {
    for (let range = 0; range < RANGES; range++) {
      const table = stageTable(range);
      // One table per range, its rows appended in grid order (position is the rowid): an insert at
      // the end of a B-tree is SQLite's fast path, where one table for all ranges would split pages
      // in sixteen places.
      db.exec(`CREATE TEMP TABLE IF NOT EXISTS ${table.slice('temp.'.length)} (
        position INTEGER PRIMARY KEY, key TEXT NOT NULL, params TEXT NOT NULL,
        engine TEXT NOT NULL, engine_version TEXT NOT NULL, cost REAL NOT NULL)`);
      db.exec(`DELETE FROM ${table}`);
      const insertRows = (rows: number): string =>
        `INSERT INTO ${table} (position, key, params, engine, engine_version, cost) VALUES ` +
        new Array<string>(rows).fill('(?, ?, ?, ?, ?, ?)').join(', ');
      this.insertStaged.push(db.prepare(insertRows(1)));
      this.insertStagedMany.push(db.prepare(insertRows(STAGE_ROWS)));
      // ORDER BY key: rows go into the trees in key order; position breaks ties so that a key met
      // twice in the grid keeps its first position (INSERT OR IGNORE keeps the first row).
      this.storeTasks.push(
        db.prepare(
          `INSERT OR IGNORE INTO main.tasks (key, params, engine, engine_version, cost, created_at)
           SELECT key, params, engine, engine_version, cost, ? FROM ${table} ORDER BY key, position`,
        ),
      );
      this.storeMembers.push(
        db.prepare(
          `INSERT OR IGNORE INTO main.sweep_tasks (sweep_id, task_key, position, cost)
           SELECT ?, key, position, cost FROM ${table} ORDER BY key, position`,
        ),
      );
    }
    this.sweepExists = db.prepare('SELECT 1 FROM main.sweeps WHERE id = ?');
    this.cacheBefore = db.pragma('main.cache_size', { simple: true }) as number;
    this.tempCacheBefore = db.pragma('temp.cache_size', { simple: true }) as number;
    db.pragma(`main.cache_size = -${STORE_CACHE_KIB}`);
    db.pragma(`temp.cache_size = -${STAGE_CACHE_KIB}`);
  }

  /**
   * Copy up to `max` tasks from `tasks` into the staging tables (one transaction of the temporary
   * database only); tasks[i] is the grid's point firstPosition + i.
   */
  stage(tasks: Iterator<ExpandedTask>, firstPosition: number, max: number): { taken: number; ended: boolean } {
    return this.db.transaction(() => {
      let taken = 0;
      let ended = false;
      while (taken < max) {
        const next = tasks.next();
        if (next.done) {
          ended = true;
          break;
        }
        const t = next.value;
        this.add(
          Number.parseInt(t.key[0]!, 16),
          firstPosition + taken,
          t.key,
          t.paramsJson ?? JSON.stringify(t.params),
          t.params.engine,
          ENGINE_VERSIONS[t.params.engine],
          t.cost,
        );
        taken++;
      }
      // Whatever is left goes in now: a staged task is in its table when stage() returns.
      this.flushPending();
      this.staged += taken;
      return { taken, ended };
    })();
  }

  /**
   * Copy a batch of tasks into the staging tables (one transaction of the temporary database only);
   * the batch's task i is the grid's point firstPosition + i. Unlike stage(), up to STAGE_ROWS - 1
   * rows of each range may stay in memory until the next stage, stageBatch or store (so that a grid
   * staged in many batches is inserted STAGE_ROWS rows a statement, not row by row at each batch's
   * end); discard() drops them with the rest.
   */
  stageBatch(batch: TaskBatch, firstPosition: number): void {
    const { count, paramsChars, engines, engineOf, costs } = batch;
    const versions = engines.map((e) => ENGINE_VERSIONS[e]);
    this.db.transaction(() => {
      for (let from = 0; from < count; from += DECODED_TASKS) {
        const to = Math.min(count, from + DECODED_TASKS);
        const { keys, params, charsBefore } = batchTexts(batch, from, to);
        let start = 0;
        for (let i = from; i < to; i++) {
          const at = (i - from) * KEY_CHARS;
          const end = paramsChars[i]! - charsBefore;
          const engine = engineOf[i]!;
          this.add(
            hexDigit(keys.charCodeAt(at)),
            firstPosition + i,
            keys.slice(at, at + KEY_CHARS),
            params.slice(start, end),
            engines[engine]!,
            versions[engine]!,
            costs[i]!,
          );
          start = end;
        }
      }
    })();
    this.staged += count;
  }

  /** One task's row for the staging table of its range, inserted STAGE_ROWS at a time. */
  private add(
    range: number,
    position: number,
    key: string,
    params: string,
    engine: string,
    engineVersion: string,
    cost: number,
  ): void {
    const values = this.pending[range];
    if (values === undefined) throw new Error(`internal error: the task key ${key} is not lowercase hex`);
    values.push(position, key, params, engine, engineVersion, cost);
    if (values.length === STAGE_ROWS * STAGE_COLUMNS) {
      this.insertStagedMany[range]!.run(values);
      values.length = 0;
    }
    this.counts[range]!++;
  }

  /** The rows add() holds, into their tables (inside the caller's transaction). */
  private flushPending(): void {
    for (let range = 0; range < RANGES; range++) {
      const values = this.pending[range]!;
      for (let i = 0; i < values.length; i += STAGE_COLUMNS)
        this.insertStaged[range]!.run(values.slice(i, i + STAGE_COLUMNS));
      values.length = 0;
    }
  }

  /** Whether every staged task is stored. */
  get stored(): boolean {
    return this.nextRange >= RANGES;
  }

  /**
   * Store the next key ranges, as many whole ranges as fit in `maxTasks` (at least one), in one write
   * transaction. Returns the tasks new to the database and whether every staged task is now stored.
   */
  storeNext(maxTasks: number, onDone?: () => void): { inserted: number; done: boolean } {
    if (this.pending.some((values) => values.length > 0)) this.db.transaction(() => this.flushPending())();
    const first = this.nextRange;
    let end = first;
    let tasks = 0;
    while (end < RANGES && (end === first || tasks + this.counts[end]! <= maxTasks)) tasks += this.counts[end++]!;
    // Foreign keys are off while a range is stored: every membership names the sweep (checked in the
    // transaction) and a task the statement before inserted or found, so the check of each row
    // (a quarter of the store's time) can only pass. The pragma is a no-op inside a transaction
    // (storeAll): there the checks simply run.
    const checkedBefore = this.db.pragma('foreign_keys', { simple: true }) === 1;
    if (checkedBefore) this.db.pragma('foreign_keys = OFF');
    try {
      const inserted = this.db.transaction((): number => {
        if (this.sweepExists.get(this.sweepId) === undefined)
          throw new Error(`internal error: sweep ${this.sweepId} vanished during its registration`);
        let changes = 0;
        for (let range = first; range < end; range++) {
          changes += this.storeTasks[range]!.run(this.now).changes;
          this.storeMembers[range]!.run(this.sweepId);
        }
        if (end >= RANGES) onDone?.(); // in the transaction of the last range: recorded with it or not at all
        return changes;
      })();
      this.nextRange = end;
      return { inserted, done: this.stored };
    } finally {
      if (checkedBefore) this.db.pragma('foreign_keys = ON');
    }
  }

  /** Store every staged task in one write transaction. */
  storeAll(): { inserted: number } {
    return this.db.transaction(() => {
      let inserted = 0;
      while (!this.stored) inserted += this.storeNext(Infinity).inserted;
      return { inserted };
    })();
  }

  /** Tasks staged so far. */
  get size(): number {
    return this.staged;
  }

  /** Empty the staging tables and give the page cache back. Safe to call more than once. */
  discard(): void {
    if (this.discarded || !this.db.open) return;
    this.discarded = true;
    for (const values of this.pending) values.length = 0;
    this.db.pragma(`main.cache_size = ${this.cacheBefore}`);
    this.db.pragma(`temp.cache_size = ${this.tempCacheBefore}`);
    for (let range = 0; range < RANGES; range++) this.db.exec(`DELETE FROM ${stageTable(range)}`);
  }
}
