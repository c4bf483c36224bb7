/**
 * Storing a grid's tasks in key order. A task's key is a hash, so a grid in its own order inserts
 * into the key-ordered B-trees (tasks by key, sweep memberships by key) at random pages: once those
 * trees outgrow the page cache every task costs page reads, and every write transaction rewrites
 * most of their pages. The tasks are therefore first copied into a temporary table of the connection
 * (appended, nothing of the database written), split by the first hex digit of their key into 16
 * ranges, and each range is then inserted sorted by key: the pages of the trees are visited in order.
 */
import type Database from 'better-sqlite3';
import { ENGINE_VERSIONS } from '../engines/versions.js';
import type { ExpandedTask } from '../sweep/types.js';

/** Key ranges (first hex digit of the key). */
const RANGES = 16;
/** A staged row's id: its range times this, plus its position in the grid (below 2^40). */
const RANGE_STRIDE = 2 ** 40;
/** Page cache while storing (KiB): the trees' pages of a range stay in memory during its insert. */
const STORE_CACHE_KIB = 65_536;
/** Page cache of the staging table and the sorts (KiB). */
const STAGE_CACHE_KIB = 32_768;
/**
 * Rows per staging INSERT: one statement of many rows costs one call into SQLite instead of one per
 * task (the per-call overhead of better-sqlite3 is most of a small row's insert).
 */
const STAGE_ROWS = 64;
const STAGE_COLUMNS = 7;

export class GridRegistration {
  private readonly counts = new Array<number>(RANGES).fill(0);
  private nextRange = 0;
  private staged = 0;
  private readonly insertStaged: Database.Statement;
  private readonly insertStagedMany: Database.Statement;
  private readonly storeTasks: Database.Statement;
  private readonly storeMembers: Database.Statement;
  private readonly cacheBefore: number;
  private readonly tempCacheBefore: number;
  private discarded = false;

  constructor(
    private readonly db: Database.Database,
    private readonly sweepId: number,
    private readonly now: number,
  ) {
    db.exec(`CREATE TEMP TABLE IF NOT EXISTS register_stage (
      id INTEGER PRIMARY KEY, position INTEGER NOT NULL, key TEXT NOT NULL, params TEXT NOT NULL,
      engine TEXT NOT NULL, engine_version TEXT NOT NULL, cost REAL NOT NULL)`);
    db.exec('DELETE FROM temp.register_stage');
    const insertRows = (rows: number): string =>
      'INSERT INTO temp.register_stage (id, position, key, params, engine, engine_version, cost) VALUES ' +
      new Array<string>(rows).fill('(?, ?, ?, ?, ?, ?, ?)').join(', ');
    this.insertStaged = db.prepare(insertRows(1));
    this.insertStagedMany = db.prepare(insertRows(STAGE_ROWS));
    // ORDER BY key: rows go into the trees in key order; position breaks ties so that a key met
    // twice in the grid keeps its first position (INSERT OR IGNORE keeps the first row).
    this.storeTasks = db.prepare(
      `INSERT OR IGNORE INTO main.tasks (key, params, engine, engine_version, cost, created_at)
       SELECT key, params, engine, engine_version, cost, ? FROM temp.register_stage
       WHERE id >= ? AND id < ? ORDER BY key, position`,
    );
    this.storeMembers = db.prepare(
      `INSERT OR IGNORE INTO main.sweep_tasks (sweep_id, task_key, position, cost)
       SELECT ?, key, position, cost FROM temp.register_stage
       WHERE id >= ? AND id < ? ORDER BY key, position`,
    );
    this.cacheBefore = db.pragma('main.cache_size', { simple: true }) as number;
    this.tempCacheBefore = db.pragma('temp.cache_size', { simple: true }) as number;
    db.pragma(`main.cache_size = -${STORE_CACHE_KIB}`);
    db.pragma(`temp.cache_size = -${STAGE_CACHE_KIB}`);
  }

  /**
   * Copy up to `max` tasks from `tasks` into the staging table (one transaction of the temporary
   * database only); tasks[i] is the grid's point firstPosition + i.
   */
  stage(tasks: Iterator<ExpandedTask>, firstPosition: number, max: number): { taken: number; ended: boolean } {
    return this.db.transaction(() => {
      let taken = 0;
      let ended = false;
      const values: unknown[] = [];
      while (taken < max) {
        const next = tasks.next();
        if (next.done) {
          ended = true;
          break;
        }
        const t = next.value;
        const range = Number.parseInt(t.key[0]!, 16);
        const position = firstPosition + taken;
        values.push(
          range * RANGE_STRIDE + position,
          position,
          t.key,
          t.paramsJson ?? JSON.stringify(t.params),
          t.params.engine,
          ENGINE_VERSIONS[t.params.engine],
          t.cost,
        );
        if (values.length === STAGE_ROWS * STAGE_COLUMNS) {
          this.insertStagedMany.run(values);
          values.length = 0;
        }
        this.counts[range]!++;
        taken++;
      }
      for (let i = 0; i < values.length; i += STAGE_COLUMNS) this.insertStaged.run(values.slice(i, i + STAGE_COLUMNS));
      this.staged += taken;
      return { taken, ended };
    })();
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
    const first = this.nextRange;
    let end = first;
    let tasks = 0;
    while (end < RANGES && (end === first || tasks + this.counts[end]! <= maxTasks)) tasks += this.counts[end++]!;
    const inserted = this.db.transaction((): number => {
      const from = first * RANGE_STRIDE;
      const to = end * RANGE_STRIDE;
      const { changes } = this.storeTasks.run(this.now, from, to);
      this.storeMembers.run(this.sweepId, from, to);
      if (end >= RANGES) onDone?.(); // in the transaction of the last range: recorded with it or not at all
      return changes;
    })();
    this.nextRange = end;
    return { inserted, done: this.stored };
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

  /** Empty the staging table and give the page cache back. Safe to call more than once. */
  discard(): void {
    if (this.discarded || !this.db.open) return;
    this.discarded = true;
    this.db.pragma(`main.cache_size = ${this.cacheBefore}`);
    this.db.pragma(`temp.cache_size = ${this.tempCacheBefore}`);
    this.db.exec('DELETE FROM temp.register_stage');
  }
}
