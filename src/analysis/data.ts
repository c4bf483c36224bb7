/**
 * Which stored sweep an analysis command means. The runs and curves themselves are read, and the
 * fits stored, by src/storage (SweepReader, SweepStore.saveFit).
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { InputError, NotFoundError } from '../errors.js';

export type { CurveRow } from '../storage/reader.js';

/** A sweep argument is a stored sweep name or a sweep file (whose `name:` is used). */
export function sweepNameOf(arg: string): string {
  if (/\.(ya?ml|json)$/i.test(arg) || existsSync(arg)) {
    if (!existsSync(arg)) throw new NotFoundError(`sweep file not found: ${arg}`);
    const doc = parseYaml(readFileSync(arg, 'utf8')) as { name?: unknown } | null;
    if (!doc || typeof doc.name !== 'string') throw new InputError(`${arg}: no "name:" field`);
    return doc.name;
  }
  return arg;
}
