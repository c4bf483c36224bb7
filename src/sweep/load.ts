/**
 * Reading a sweep file: text → document (YAML, or JSON for *.json) → validated spec → tasks.
 * Every failure is a one-line BoptError that starts with the file name.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import YAML, { LineCounter, isMap, isNode, isScalar, isSeq } from 'yaml';
import { BoptError, InputError, NotFoundError } from '../errors.js';
import type { ExpandOptions } from './expand.js';
import { GridSweep } from './grid.js';
import { specHash } from './identity.js';
import type { Locator, SourceContext } from './report.js';
import { validateSweep, type SweepSpec } from './schema.js';
import type { GridSource, LoadedSweep } from './types.js';

/** The file name as shown in messages: relative to the working directory when inside it. */
export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), path.resolve(file));
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

function isJson(file: string): boolean {
  return /\.json$/i.test(file);
}

/** Finds the line of a field path by walking the YAML syntax tree (JSON is parsed as YAML for this). */
function makeLocator(text: string): Locator {
  let cached: { doc: YAML.Document; lines: LineCounter } | undefined;
  return (fieldPath) => {
    if (!cached) {
      const lines = new LineCounter();
      cached = { doc: YAML.parseDocument(text, { lineCounter: lines }), lines };
    }
    const { doc, lines } = cached;
    const lineOf = (n: unknown): number | undefined =>
      isNode(n) && n.range ? lines.linePos(n.range[0]).line : undefined;
    let node: unknown = doc.contents;
    let line: number | undefined;
    for (const seg of fieldPath) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg);
        if (!pair) break;
        line = lineOf(pair.key) ?? line;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
        node = node.items[seg];
        line = lineOf(node) ?? line;
      } else {
        break;
      }
    }
    return line;
  };
}

function syntaxError(file: string, kind: string, message: string, line?: number, column?: number): BoptError {
  const where = line !== undefined ? ` line ${line}${column !== undefined ? `, column ${column}` : ''}:` : '';
  return new InputError(`${file}:${where} ${kind} syntax error: ${message}`);
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const message = (e as Error).message.split('\n')[0];
    const m = /at position (\d+)/.exec(message);
    const clean = message
      .replace(/\s*(in JSON )?at position \d+.*$/, '')
      .replace(/^Unexpected end of JSON input$/, 'unexpected end of input');
    let line: number | undefined;
    let column: number | undefined;
    if (m) {
      const before = text.slice(0, Number(m[1]));
      line = before.split('\n').length;
      column = Number(m[1]) - before.lastIndexOf('\n');
    } else if (/end of JSON input/.test(message)) {
      line = text.split('\n').length;
    }
    throw syntaxError(file, 'JSON', clean, line, column);
  }
}

function parseYaml(text: string, file: string): unknown {
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  const err = doc.errors[0];
  if (err) {
    const pos = err.linePos?.[0];
    const message = err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    throw syntaxError(file, 'YAML', message, pos?.line, pos?.col);
  }
  return doc.toJS();
}

/** Parse a sweep file's text into a plain object (no validation); syntax errors carry the line. */
export function parseSweepDocument(text: string, file: string): unknown {
  const shown = displayPath(file);
  return isJson(file) ? parseJson(text, shown) : parseYaml(text, shown);
}

/**
 * Validate a sweep given as text, every point of its grid included (the tasks themselves are built
 * when read or streamed: see GridSweep). `file` names it in messages (and picks JSON for *.json).
 */
export function parseSweep(text: string, file: string, options: ExpandOptions = {}): LoadedSweep {
  const source: GridSource = { text, file: path.resolve(file), shown: displayPath(file) };
  const document = parseSweepDocument(text, file);
  const spec = validateSweep(document, sourceContext(source));
  return new GridSweep(
    { name: spec.name, file: source.file, specText: text, specHash: specHash(document), source },
    spec,
    options,
  );
}

function sourceContext(source: GridSource): SourceContext {
  return { file: source.shown, locate: makeLocator(source.text) };
}

/**
 * The spec of a sweep that parseSweep accepted, from its source again (in another thread: a spec
 * holds compiled expressions, which cannot be sent). Its points are not checked here.
 */
export function specOfSource(source: GridSource): SweepSpec {
  return validateSweep(parseSweepDocument(source.text, source.file), sourceContext(source));
}

/** Same as parseSweep (the name the CLI uses for a spec stored in the database). */
export const parseSweepText = parseSweep;

/** Larger sweep files are refused before they are read. */
export const MAX_SWEEP_FILE_BYTES = 4 * 2 ** 20;

/** Read, validate and expand a sweep file. */
export function loadSweep(file: string, options: ExpandOptions = {}): LoadedSweep {
  const shown = displayPath(file);
  let text: string;
  try {
    // Checked before reading: a device, a FIFO or a huge file must not be read into memory.
    const info = statSync(file);
    if (!info.isFile() && !info.isDirectory())
      throw new InputError(`${shown}: cannot read: not a regular file, expected a sweep file`);
    if (info.size > MAX_SWEEP_FILE_BYTES)
      throw new InputError(
        `${shown}: the file is ${(info.size / 2 ** 20).toFixed(1)} MiB; ` +
          `a sweep file is at most ${MAX_SWEEP_FILE_BYTES / 2 ** 20} MiB (use grid ranges, not listed values)`,
      );
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof BoptError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NotFoundError(`${shown}: file not found`);
    if (code === 'EISDIR') throw new InputError(`${shown}: cannot read: it is a directory, expected a sweep file`);
    if (code === 'EACCES' || code === 'EPERM') throw new InputError(`${shown}: cannot read: permission denied`);
    throw new InputError(`${shown}: cannot read: ${(e as Error).message.split('\n')[0]}`);
  }
  return parseSweep(text, file, options);
}
