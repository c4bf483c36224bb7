#!/usr/bin/env node
// Runs the compiled test files (dist/test/**/*.test.js) whose sources still exist in test/, so a
// stale output of a deleted test never runs. Node 20's `node --test` takes no glob patterns.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const compiled = join(root, 'dist', 'test');

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.test.js') ? [join(dir, e.name)] : [],
  );
}

const files = walk(compiled)
  .filter((f) => {
    const source = join(root, 'test', relative(compiled, f)).replace(/\.js$/, '');
    return existsSync(`${source}.ts`) || existsSync(`${source}.tsx`);
  })
  .sort();
if (files.length === 0) {
  console.error('run-tests: no compiled tests under dist/test (run tsc first)');
  process.exit(1);
}
const args = ['--test', '--test-concurrency=2', ...process.argv.slice(2), ...files];
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(r.status ?? 1);
