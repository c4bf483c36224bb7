import Table from 'cli-table3';
import { stringify } from 'csv-stringify/sync';
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
