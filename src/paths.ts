import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BoptError } from './errors.js';

/** The folder holding bopt's package.json, whether running from src/ (tsx) or dist/src/ (compiled). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'db', 'migrations'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('bopt: cannot find the package root (package.json beside db/migrations)');
    dir = parent;
  }
}

export const MIGRATIONS_DIR = (): string => join(packageRoot(), 'db', 'migrations');

/** Database path: --db, else $BOPT_DB, else db/bopt.sqlite in the package. */
export function resolveDatabasePath(flag?: string): string {
  if (flag !== undefined) {
    if (flag.trim() === '')
      throw new BoptError('--db: empty path (give a database file, or leave --db out for the default)');
    return resolve(flag);
  }
  if (process.env.BOPT_DB) return resolve(process.env.BOPT_DB);
  return join(packageRoot(), 'db', 'bopt.sqlite');
}
