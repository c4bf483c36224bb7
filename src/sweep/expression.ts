/**
 * The small, safe expression language of `derived:` parameters. Hand-written recursive descent: no
 * eval, no Function constructor. Grammar (usual precedence, `^` right-associative and binding tighter
 * than unary minus, so -2^2 = -4):
 *
 *   expr    := term (('+' | '-') term)*
 *   term    := unary (('*' | '/') unary)*
 *   unary   := ('-' | '+') unary | power
 *   power   := primary (('^' | '**') unary)?
 *   primary := number | name | name '(' expr (',' expr)* ')' | '(' expr ')'
 *
 * Names are parameters of the task (or the constants pi and e); functions are listed in FUNCTIONS.
 * An expression is parsed once and compiled to a tree of closures, so evaluating it per task is cheap.
 */

export class ExpressionError extends Error {
  /** 1-based column of the offending character in the expression text. */
  readonly column: number;
  constructor(message: string, column: number) {
    super(message);
    this.name = 'ExpressionError';
    this.column = column;
  }
}

type Fn = (...args: number[]) => number;

interface FunctionDef {
  /** Minimum and maximum number of arguments. */
  min: number;
  max: number;
  fn: Fn;
}

export const FUNCTIONS: Readonly<Record<string, FunctionDef>> = {
  round: { min: 1, max: 1, fn: Math.round },
  floor: { min: 1, max: 1, fn: Math.floor },
  ceil: { min: 1, max: 1, fn: Math.ceil },
  abs: { min: 1, max: 1, fn: Math.abs },
  sqrt: { min: 1, max: 1, fn: Math.sqrt },
  exp: { min: 1, max: 1, fn: Math.exp },
  /** log(x) is the natural logarithm; log(x, base) any base. */
  log: { min: 1, max: 2, fn: (x, base) => (base === undefined ? Math.log(x) : Math.log(x) / Math.log(base)) },
  log2: { min: 1, max: 1, fn: Math.log2 },
  log10: { min: 1, max: 1, fn: Math.log10 },
  pow: { min: 2, max: 2, fn: Math.pow },
  min: { min: 1, max: Infinity, fn: Math.min },
  max: { min: 1, max: Infinity, fn: Math.max },
};

export const CONSTANTS: Readonly<Record<string, number>> = { pi: Math.PI, e: Math.E };

/** A variable as it appears in the text, for error messages. */
export interface VariableRef {
  name: string;
  column: number;
}

export interface CompiledExpression {
  text: string;
  /** Distinct variable names in order of first appearance, with the column of that appearance. */
  variables: VariableRef[];
  /** Evaluate with the given variable values (every name in `variables` must be provided). */
  evaluate(lookup: (name: string) => number): number;
}

type Evaluator = (lookup: (name: string) => number) => number;

interface Token {
  kind: 'num' | 'name' | 'op' | 'end';
  text: string;
  value: number;
  column: number;
}

const NUMBER_RE = /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;
const NAME_RE = /[A-Za-z_][A-Za-z0-9_]*/y;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    NUMBER_RE.lastIndex = i;
    let m = NUMBER_RE.exec(text);
    if (m) {
      tokens.push({ kind: 'num', text: m[0], value: Number(m[0]), column: i + 1 });
      i += m[0].length;
      continue;
    }
    NAME_RE.lastIndex = i;
    m = NAME_RE.exec(text);
    if (m) {
      tokens.push({ kind: 'name', text: m[0], value: NaN, column: i + 1 });
      i += m[0].length;
      continue;
    }
    if (c === '*' && text[i + 1] === '*') {
      tokens.push({ kind: 'op', text: '^', value: NaN, column: i + 1 });
      i += 2;
      continue;
    }
    if ('+-*/^(),'.includes(c)) {
      tokens.push({ kind: 'op', text: c, value: NaN, column: i + 1 });
      i++;
      continue;
    }
    throw new ExpressionError(`unexpected character ${JSON.stringify(c)} at column ${i + 1}`, i + 1);
  }
  tokens.push({ kind: 'end', text: '', value: NaN, column: text.length + 1 });
  return tokens;
}

function describe(t: Token): string {
  return t.kind === 'end' ? 'end of expression' : JSON.stringify(t.text);
}

class Parser {
  private pos = 0;
  readonly variables: VariableRef[] = [];

  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.pos];
  }

  private isOp(text: string): boolean {
    const t = this.peek();
    return t.kind === 'op' && t.text === text;
  }

  private expectOp(text: string): void {
    const t = this.peek();
    if (!this.isOp(text)) {
      throw new ExpressionError(`expected "${text}" at column ${t.column}, found ${describe(t)}`, t.column);
    }
    this.pos++;
  }

  parse(): Evaluator {
    const e = this.expr();
    const t = this.peek();
    if (t.kind !== 'end') {
      throw new ExpressionError(`unexpected ${describe(t)} at column ${t.column}`, t.column);
    }
    return e;
  }

  private expr(): Evaluator {
    let left = this.term();
    while (this.isOp('+') || this.isOp('-')) {
      const op = this.tokens[this.pos++].text;
      const a = left;
      const b = this.term();
      left = op === '+' ? (l) => a(l) + b(l) : (l) => a(l) - b(l);
    }
    return left;
  }

  private term(): Evaluator {
    let left = this.unary();
    while (this.isOp('*') || this.isOp('/')) {
      const op = this.tokens[this.pos++].text;
      const a = left;
      const b = this.unary();
      left = op === '*' ? (l) => a(l) * b(l) : (l) => a(l) / b(l);
    }
    return left;
  }

  private unary(): Evaluator {
    if (this.isOp('-')) {
      this.pos++;
      const a = this.unary();
      return (l) => -a(l);
    }
    if (this.isOp('+')) {
      this.pos++;
      return this.unary();
    }
    return this.power();
  }

  private power(): Evaluator {
    const base = this.primary();
    if (this.isOp('^')) {
      this.pos++;
      const exponent = this.unary();
      return (l) => Math.pow(base(l), exponent(l));
    }
    return base;
  }

  private primary(): Evaluator {
    const t = this.peek();
    if (t.kind === 'num') {
      this.pos++;
      const v = t.value;
      return () => v;
    }
    if (t.kind === 'name') {
      this.pos++;
      if (this.isOp('(')) return this.call(t);
      if (Object.hasOwn(FUNCTIONS, t.text)) {
        throw new ExpressionError(`function ${t.text} at column ${t.column} needs arguments: ${t.text}(...)`, t.column);
      }
      const name = t.text;
      if (Object.hasOwn(CONSTANTS, name)) {
        const v = CONSTANTS[name];
        return () => v;
      }
      if (!this.variables.some((v) => v.name === name)) this.variables.push({ name, column: t.column });
      return (l) => l(name);
    }
    if (this.isOp('(')) {
      this.pos++;
      const e = this.expr();
      this.expectOp(')');
      return e;
    }
    throw new ExpressionError(`expected a number, a name or "(" at column ${t.column}, found ${describe(t)}`, t.column);
  }

  private call(nameToken: Token): Evaluator {
    const def = Object.hasOwn(FUNCTIONS, nameToken.text) ? FUNCTIONS[nameToken.text] : undefined;
    if (!def) {
      throw new ExpressionError(
        `unknown function "${nameToken.text}" at column ${nameToken.column} (known: ${Object.keys(FUNCTIONS).join(', ')})`,
        nameToken.column,
      );
    }
    this.expectOp('(');
    const args: Evaluator[] = [this.expr()];
    while (this.isOp(',')) {
      this.pos++;
      args.push(this.expr());
    }
    this.expectOp(')');
    if (args.length < def.min || args.length > def.max) {
      const wanted =
        def.max === Infinity ? `at least ${def.min}` : def.min === def.max ? `${def.min}` : `${def.min} or ${def.max}`;
      throw new ExpressionError(
        `${nameToken.text}() at column ${nameToken.column} takes ${wanted} argument${wanted === '1' ? '' : 's'}, got ${args.length}`,
        nameToken.column,
      );
    }
    const fn = def.fn;
    if (args.length === 1) {
      const [a] = args;
      return (l) => fn(a(l));
    }
    if (args.length === 2) {
      const [a, b] = args;
      return (l) => fn(a(l), b(l));
    }
    return (l) => fn(...args.map((a) => a(l)));
  }
}

/** Parse and compile an expression; throws ExpressionError (with a 1-based column) on bad syntax. */
export function compileExpression(text: string): CompiledExpression {
  const parser = new Parser(tokenize(text));
  const evaluate = parser.parse();
  return { text, variables: parser.variables, evaluate };
}
