/**
 * The CLI alone turns errors into exit codes and names flags: every error class has its exit code,
 * every option the core validates has its flag, and no string in the code outside src/cli names a flag.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import * as errors from '../../src/errors.js';
import { describeError, exitCodeOf, OPTION_FLAGS } from '../../src/cli/errors.js';
import { packageRoot } from '../../src/paths.js';

const EXPECTED_EXIT: Record<string, number> = {
  InputError: 2,
  OptionError: 2,
  NotFoundError: 2,
  DatabaseNotFoundError: 2,
  DatabaseError: 2,
  ForeignDatabaseError: 2,
  EngineError: 2,
  QueueError: 2,
  LockedError: 3,
  StoreUnwritableError: 4,
};

function instanceOf(name: string): errors.BoptError {
  switch (name) {
    case 'OptionError':
      return new errors.OptionError('retries', 'expected a non-negative integer, got -1');
    case 'DatabaseNotFoundError':
      return new errors.DatabaseNotFoundError('/tmp/missing.sqlite');
    case 'StoreUnwritableError':
      return new errors.StoreUnwritableError(
        'database /tmp/a.sqlite is on a full disk, still after 120s; stopping',
        'g',
      );
    default: {
      const Class = (errors as unknown as Record<string, new (message: string) => errors.BoptError>)[name]!;
      return new Class(`a ${name}`);
    }
  }
}

test('every error class of src/errors.ts has its exit code in the CLI', () => {
  const classes = Object.entries(errors)
    .filter(([name, value]) => typeof value === 'function' && value.prototype instanceof errors.BoptError && name)
    .map(([name]) => name)
    .sort();
  assert.deepEqual(classes, Object.keys(EXPECTED_EXIT).sort(), 'a new error class needs its exit code here');
  for (const name of classes) {
    const e = instanceOf(name);
    assert.equal(e.name, name);
    assert.ok(e instanceof errors.BoptError);
    assert.equal(exitCodeOf(e), EXPECTED_EXIT[name], name);
  }
});

test('the CLI names the flag of each option and the command that fixes a database problem', () => {
  for (const [option, flag] of Object.entries(OPTION_FLAGS)) {
    const e = new errors.OptionError(option as errors.OptionName, 'expected a positive integer, got 0');
    assert.equal(describeError(e), `${flag}: expected a positive integer, got 0`);
  }
  assert.equal(
    describeError(new errors.DatabaseNotFoundError('/tmp/x.sqlite')),
    'database not found: /tmp/x.sqlite (run `bopt run SWEEP_FILE` first, or pass --db / set BOPT_DB)',
  );
  assert.match(describeError(instanceOf('StoreUnwritableError')), /stopping\. Unrecorded tasks .*: bopt resume g$/);
  assert.match(
    describeError(new errors.ForeignDatabaseError('database x is not a bopt database')),
    /; pass another --db$/,
  );
  assert.equal(describeError(new errors.InputError('bad SQL: near "SELEC"')), 'bad SQL: near "SELEC"');
});

const sourcesUnder = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourcesUnder(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [join(dir, e.name)] : [],
  );

/** The text of every string and template literal in a file (comments are not literals). */
function literals(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteralLike(node)) found.push(node.text);
    else if (ts.isTemplateExpression(node)) {
      found.push(node.head.text, ...node.templateSpans.map((s) => s.literal.text));
    }
    node.forEachChild(visit);
  };
  visit(source);
  return found;
}

test('no string below src/cli names a flag of the CLI', () => {
  const src = join(packageRoot(), 'src');
  const cliFiles = sourcesUnder(join(src, 'cli'));
  const flags = new Set(cliFiles.flatMap((f) => literals(f).flatMap((s) => s.match(/--[a-z][a-z-]*/g) ?? [])));
  for (const flag of Object.values(OPTION_FLAGS)) assert.ok(flags.has(flag), `${flag} is a flag of the CLI`);
  const offending: string[] = [];
  for (const file of sourcesUnder(src)) {
    const where = relative(src, file);
    if (where.startsWith('cli')) continue;
    for (const s of literals(file))
      for (const flag of s.match(/--[a-z][a-z-]*/g) ?? []) if (flags.has(flag)) offending.push(`${where}: ${s}`);
  }
  assert.deepEqual(offending, []);
});
