import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OptionError } from './errors.js';

/**
 * The folder of bopt's own package.json (name "bopt"), whether running from src/ (tsx) or dist/src/
 * (compiled): the one place that finds the migrations, the default database and the native addon.
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'bopt') return dir;
      } catch {
        /* not ours: keep walking */
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`bopt: cannot find the package root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export const MIGRATIONS_DIR = (): string => join(packageRoot(), 'db', 'migrations');

/** Database path: --db, else $BOPT_DB, else db/bopt.sqlite in the package. */
export function resolveDatabasePath(flag?: string): string {
  if (flag !== undefined) {
    if (flag.trim() === '')
      throw new OptionError('database', 'empty path (give a database file, or leave it out for the default)');
    return resolve(flag);
  }
  if (process.env.BOPT_DB) return resolve(process.env.BOPT_DB);
  return join(packageRoot(), 'db', 'bopt.sqlite');
}
