import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { DatabaseError } from '../errors.js';
import { MIGRATIONS_DIR } from '../paths.js';

interface Migration {
  version: number;
  file: string;
  sql: string;
}

/**
 * db/migrations/NNN_name.sql, in order. Two files of one number are refused: the database records
 * only the number, so the second would silently never be applied.
 */
export function listMigrations(dir: string = MIGRATIONS_DIR()): Migration[] {
  const migrations = readdirSync(dir)
    .filter((f) => /^\d+_.*\.sql$/.test(f))
    .map((f) => ({ version: Number.parseInt(f, 10), file: f, sql: readFileSync(join(dir, f), 'utf8') }))
    .sort((a, b) => a.version - b.version || a.file.localeCompare(b.file));
  for (let i = 1; i < migrations.length; i++)
    if (migrations[i]!.version === migrations[i - 1]!.version)
      throw new DatabaseError(
        `${dir}: migrations ${migrations[i - 1]!.file} and ${migrations[i]!.file} ` +
          `share schema version ${migrations[i]!.version}; renumber the newer one`,
      );
  return migrations;
}

/**
 * Apply every migration newer than PRAGMA user_version in one write transaction, so a database is
 * always at some exact schema version. The version is read again under the write lock (BEGIN
 * IMMEDIATE): two processes creating one database at once apply each migration once. Returns the
 * versions applied.
 */
export function migrate(db: Database.Database, dir?: string): number[] {
  const migrations = listMigrations(dir);
  const latest = migrations.at(-1)?.version ?? 0;
  if ((db.pragma('user_version', { simple: true }) as number) >= latest) return [];
  return db
    .transaction((): number[] => {
      const current = db.pragma('user_version', { simple: true }) as number;
      const applied: number[] = [];
      for (const m of migrations) {
        if (m.version <= current) continue;
        db.exec(m.sql);
        db.pragma(`user_version = ${m.version}`);
        applied.push(m.version);
      }
      return applied;
    })
    .immediate();
}

export function latestSchemaVersion(dir?: string): number {
  const all = listMigrations(dir);
  return all.length ? all[all.length - 1]!.version : 0;
}
