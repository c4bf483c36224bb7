import Table from 'cli-table3';
import { stringify } from 'csv-stringify/sync';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { InputError } from '../errors.js';
import type { Cell, QueryResult } from '../storage/query.js';

export const OUTPUT_FORMATS = ['table', 'csv', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function parseFormat(value: string, allowed: readonly OutputFormat[] = OUTPUT_FORMATS): OutputFormat {
  if ((allowed as readonly string[]).includes(value)) return value as OutputFormat;
  throw new InputError(`--format: expected one of ${allowed.join(', ')}, got "${value}"`);
}

const plain = (c: Cell): string | number | null => {
  if (c === null) return null;
  if (typeof c === 'bigint') return Number(c);
  if (Buffer.isBuffer(c)) return c.toString('hex');
  return c;
};

const shortNumber = (v: string | number | null): string => {
  if (v === null) return '';
  if (typeof v === 'number' && !Number.isInteger(v)) return Number(v.toPrecision(6)).toString();
  return String(v);
};

/** Render a query result; json is an array of row objects, csv has a header line. */
export function formatResult(result: QueryResult, format: OutputFormat): string {
  const rows = result.rows.map((r) => r.map(plain));
  switch (format) {
    case 'json':
      return (
        JSON.stringify(
          rows.map((r) => Object.fromEntries(result.columns.map((c, i) => [c, r[i]]))),
          null,
          2,
        ) + '\n'
      );
    case 'csv':
      return stringify([result.columns, ...rows.map((r) => r.map((v) => (v === null ? '' : v)))]);
    case 'table': {
      // No rule between rows: a result of hundreds of rows stays readable.
      const table = new Table({
        head: result.columns,
        style: { head: [], border: [] },
        chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
      });
      for (const r of rows) table.push(r.map(shortNumber));
      return `${table.toString()}\n(${rows.length} row${rows.length === 1 ? '' : 's'})\n`;
    }
  }
}

export interface WrittenResult {
  rows: number;
  /** True when more rows were there than `maxRows`. */
  truncated: boolean;
}

/** Output is handed to the stream in pieces of about this size. */
const CHUNK_CHARS = 64 * 1024;

/**
 * Write rows as they come: csv and json hold only the current chunk in memory (and wait for the
 * stream to drain), so a result of any size streams; a table needs its widths, so it holds its rows
 * (at most `maxRows`). `maxRows` 0 means no limit; the row after the last one kept is read only to
 * tell whether the result was cut.
 */
export async function writeResult(
  columns: string[],
  rows: Iterator<Cell[]>,
  format: OutputFormat,
  out: Writable,
  maxRows: number,
): Promise<WrittenResult> {
  let pending = '';
  const emit = async (text: string, force = false): Promise<void> => {
    pending += text;
    if (pending.length < CHUNK_CHARS && !force) return;
    const ok = out.write(pending);
    pending = '';
    if (!ok) await once(out, 'drain');
  };
  const kept: Cell[][] = [];
  let count = 0;
  let truncated = false;
  if (format === 'csv') await emit(stringify([columns]));
  if (format === 'json') await emit('[');
  for (;;) {
    const next = rows.next();
    if (next.done) break;
    if (maxRows > 0 && count === maxRows) {
      truncated = true;
      break;
    }
    count++;
    const row = next.value.map(plain);
    if (format === 'table') kept.push(next.value);
    else if (format === 'csv') await emit(stringify([row.map((v) => (v === null ? '' : v))]));
    else {
      const object = Object.fromEntries(columns.map((c, i) => [c, row[i]]));
      await emit(`${count === 1 ? '\n' : ',\n'}  ${JSON.stringify(object, null, 2).replace(/\n/g, '\n  ')}`);
    }
  }
  rows.return?.();
  if (format === 'table') await emit(formatResult({ columns, rows: kept }, 'table'));
  if (format === 'json') await emit(count === 0 ? ']\n' : '\n]\n');
  await emit('', true);
  return { rows: count, truncated };
}
