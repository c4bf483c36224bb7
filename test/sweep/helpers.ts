import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BoptError } from '../../src/errors.js';
import { parseSweep } from '../../src/sweep/index.js';
import type { LoadedSweep } from '../../src/sweep/types.js';

/** The repository root (works from test/sweep and from dist/test/sweep). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found');
    dir = up;
  }
  return dir;
}

export const FILE = 'sweeps/x.yaml';

/** A sweep from text, with `engine: auto` resolved to reference so results do not depend on the machine. */
export function sweep(text: string, file = FILE): LoadedSweep {
  return parseSweep(text, file, { defaultEngine: 'reference' });
}

/** The common fixed block, as YAML lines. */
export const BASE = `fixed:
  engine: reference
  model: mlp
  dataset: mnist
  n_train: 1000
  steps: 100
`;

/** Assert that `fn` throws a one-line BoptError containing every fragment; returns the message. */
export function throwsBopt(fn: () => unknown, ...fragments: string[]): string {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof BoptError, `expected a BoptError, got ${String(caught)}`);
  const message = caught.message;
  assert.ok(!message.includes('\n'), `expected one line, got:\n${message}`);
  for (const f of fragments) assert.ok(message.includes(f), `expected ${JSON.stringify(f)} in: ${message}`);
  return message;
}

/** Project a task list onto some parameters, for compact assertions. */
export function column(s: LoadedSweep, ...names: string[]): unknown[][] {
  return s.tasks.map((t) => names.map((n) => (t.params as unknown as Record<string, unknown>)[n]));
}
