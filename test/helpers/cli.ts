import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { packageRoot } from '../../src/paths.js';

/** The compiled CLI (npm test compiles before running the tests). */
export const CLI = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function bopt(args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...env },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function boptAsync(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): ChildProcess & { output: () => { stdout: string; stderr: string } } {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return Object.assign(child, { output: () => ({ stdout, stderr }) });
}

export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Poll a read-only SQL count until it reaches `atLeast` (the database may not exist yet). */
export async function waitForCount(dbPath: string, sql: string, atLeast: number, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const db = new Database(dbPath, { readonly: true, fileMustExist: true });
      try {
        const n = db.prepare(sql).pluck().get() as number;
        if (n >= atLeast) return n;
      } finally {
        db.close();
      }
    } catch {
      // not created yet, or schema not there yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${sql} >= ${atLeast}`);
    await sleep(50);
  }
}

export function countOf(dbPath: string, sql: string): number {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).pluck().get() as number;
  } finally {
    db.close();
  }
}

type Param = string | number | bigint | null;

/** Run `fn` on a read-only connection of its own to `dbPath` (the store keeps its connection to itself). */
function readOnly<T>(dbPath: string, fn: (db: Database.Database) => T): T {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** The first column of the first row of a query. */
export function valueOf(dbPath: string, sql: string, ...params: Param[]): unknown {
  return readOnly(dbPath, (db) =>
    db
      .prepare(sql)
      .pluck()
      .get(...params),
  );
}

/** The first column of every row of a query. */
export function columnOf(dbPath: string, sql: string, ...params: Param[]): unknown[] {
  return readOnly(dbPath, (db) =>
    db
      .prepare(sql)
      .pluck()
      .all(...params),
  );
}

/** The first row of a query. */
export function rowOf(dbPath: string, sql: string, ...params: Param[]): unknown {
  return readOnly(dbPath, (db) => db.prepare(sql).get(...params));
}

/** Every row of a query. */
export function rowsOf(dbPath: string, sql: string, ...params: Param[]): unknown[] {
  return readOnly(dbPath, (db) => db.prepare(sql).all(...params));
}

export function writeSweep(dir: string, name: string, body: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, body);
  return file;
}
