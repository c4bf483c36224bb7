import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExpressionError, compileExpression } from '../../src/sweep/expression.js';

const vars: Record<string, number> = { lr: 0.5, batch_size: 32, n_train: 1000, momentum: 0.9 };
const run = (text: string): number => compileExpression(text).evaluate((n) => vars[n]);

test('arithmetic and precedence', () => {
  assert.equal(run('1 + 2 * 3'), 7);
  assert.equal(run('(1 + 2) * 3'), 9);
  assert.equal(run('10 - 4 - 3'), 3);
  assert.equal(run('64 / 4 / 2'), 8);
  assert.equal(run('2 ^ 3 ^ 2'), 512, '^ is right-associative');
  assert.equal(run('2 ** 10'), 1024);
  assert.equal(run('-2 ^ 2'), -4, 'unary minus binds looser than ^');
  assert.equal(run('2 ^ -1'), 0.5);
  assert.equal(run('--3'), 3);
  assert.equal(run('+3'), 3);
  assert.equal(run('1.5e3 + .5'), 1500.5);
});

test('variables, constants and functions', () => {
  assert.equal(run('10000 / lr'), 20000);
  assert.equal(run('lr * n_train / (batch_size * (1 - momentum))'), (0.5 * 1000) / (32 * (1 - 0.9)));
  assert.equal(run('round(2.5) + floor(2.7) + ceil(2.1)'), 3 + 2 + 3);
  assert.equal(run('min(3, 1, 2) + max(4, 5)'), 6);
  assert.equal(run('sqrt(16) + abs(-2) + pow(2, 3)'), 4 + 2 + 8);
  assert.ok(Math.abs(run('log(exp(2))') - 2) < 1e-12);
  assert.ok(Math.abs(run('log(1000, 10)') - 3) < 1e-12);
  assert.equal(run('log10(1000) + log2(8)'), 6);
  assert.equal(run('pi'), Math.PI);
  assert.equal(run('e'), Math.E);
  assert.deepEqual(
    compileExpression('lr * batch_size + lr / n_train').variables.map((v) => [v.name, v.column]),
    [
      ['lr', 1],
      ['batch_size', 6],
      ['n_train', 24],
    ],
  );
});

function syntaxError(text: string, fragment: string, column: number): void {
  assert.throws(
    () => compileExpression(text),
    (e: unknown) => e instanceof ExpressionError && e.message.includes(fragment) && e.column === column,
    `${text}: expected ${fragment} at column ${column}`,
  );
}

test('syntax errors say what and where', () => {
  syntaxError('10000 /', 'expected a number, a name or "(" at column 8, found end of expression', 8);
  syntaxError('(1 + 2', 'expected ")" at column 7', 7);
  syntaxError('1 + 2)', 'unexpected ")" at column 6', 6);
  syntaxError('2 $ 3', 'unexpected character "$" at column 3', 3);
  syntaxError('lr lr', 'unexpected "lr" at column 4', 4);
  syntaxError('foo(1)', 'unknown function "foo" at column 1', 1);
  syntaxError('round(1, 2)', 'round() at column 1 takes 1 argument, got 2', 1);
  syntaxError('min()', 'expected a number, a name or "(" at column 5', 5);
  syntaxError('sqrt + 1', 'function sqrt at column 1 needs arguments', 1);
  syntaxError('', 'found end of expression', 1);
});

test('no access to JavaScript: names are only variables', () => {
  const e = compileExpression('constructor + __proto__');
  assert.deepEqual(
    e.variables.map((v) => v.name),
    ['constructor', '__proto__'],
  );
  assert.throws(() => compileExpression('toString(1)'), /unknown function "toString"/);
  assert.throws(() => compileExpression('"a"'), /unexpected character/);
});
