#!/usr/bin/env node
/**
 * The install step of bopt (package.json "install"): builds the native engine, a Node-API C++ addon
 * (binding.gyp, native/*.cc), with node-gyp.
 *
 * The addon is optional. If it cannot be built (no C++ compiler, no make/python for node-gyp, no Node
 * headers...), this script prints ONE warning, records the reason in build/native-build-failed.txt
 * (bopt shows it when it falls back to another engine) and exits 0, so `npm install` still succeeds.
 *
 * Environment:
 *   BOPT_SKIP_NATIVE=1        do not build (bopt then uses the reference engine)
 *   BOPT_NATIVE_MARCH=<cpu>   compile for this -march instead of "native" (a binary meant to be copied)
 * Rebuild by hand: node scripts/build-native.mjs
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = join(root, 'build');
const failedFile = join(buildDir, 'native-build-failed.txt');
const logFile = join(buildDir, 'native-build.log');
const addon = join(buildDir, 'Release', 'bopt_native.node');

function fail(reason, log) {
  try {
    mkdirSync(buildDir, { recursive: true });
    writeFileSync(failedFile, reason + '\n');
    if (log !== undefined) writeFileSync(logFile, log);
  } catch {
    /* best effort: the warning below is what matters */
  }
  const where = log !== undefined ? ` Build log: ${relative(process.cwd(), logFile) || logFile}.` : '';
  console.warn(
    `bopt: WARNING: the native engine was not built (${reason}). bopt still works: it falls back to the ` +
      `reference engine (slower).${where} To retry: node scripts/build-native.mjs`,
  );
  process.exit(0);
}

if (process.env.BOPT_SKIP_NATIVE === '1') fail('BOPT_SKIP_NATIVE=1');

function findNodeGyp() {
  try {
    return createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    // npm ships its own node-gyp and tells lifecycle scripts where it is
    const fromNpm = process.env.npm_config_node_gyp;
    return fromNpm && existsSync(fromNpm) ? fromNpm : null;
  }
}

const nodeGyp = findNodeGyp();
if (!nodeGyp) fail('node-gyp not found');

const args = [nodeGyp, 'rebuild'];
// Use the headers installed with this Node when there are any, so that no download is needed.
const prefix = resolve(dirname(process.execPath), '..');
if (
  existsSync(join(prefix, 'include', 'node', 'node_api.h')) &&
  existsSync(join(prefix, 'include', 'node', 'common.gypi'))
) {
  args.push(`--nodedir=${prefix}`);
}
if (process.env.BOPT_NATIVE_MARCH) args.push(`--bopt_march=${process.env.BOPT_NATIVE_MARCH}`);

const run = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 600_000, env: process.env });
const log = `$ node ${args.join(' ')}\n${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? String(run.error) + '\n' : ''}`;

if (run.status !== 0 || !existsSync(addon)) {
  const lines = log.split('\n');
  const pick =
    lines.find((l) => /:\d+:\d+: (fatal )?error:/.test(l)) ??
    lines.find((l) => /No such file or directory|not found|command not found/i.test(l) && !/^\$ node/.test(l)) ??
    lines.find((l) => /gyp ERR! stack Error:/.test(l)) ??
    (run.error ? String(run.error) : `node-gyp exited with code ${run.status}`);
  fail(
    pick
      .replace(/^gyp ERR! stack /, '')
      .trim()
      .slice(0, 300),
    log,
  );
}

rmSync(failedFile, { force: true });
try {
  writeFileSync(logFile, log);
} catch {
  /* ignore */
}
console.log(`bopt: native engine built (${relative(root, addon)})`);
