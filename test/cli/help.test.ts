/** Every command's --help says each default once (commander appends "(default: …)" itself). */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../../src/paths.js';

const CLI = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
const COMMANDS = [
  'run',
  'resume',
  'plan',
  'worker',
  'watch',
  'status',
  'list',
  'query',
  'export',
  'fit',
  'plot',
  'report',
];

/** The help's option entries, each with its wrapped description lines joined. */
function optionEntries(help: string): string[] {
  const entries: string[] = [];
  for (const line of help.split('\n')) {
    if (/^ {2}-/.test(line)) entries.push(line.trim());
    else if (/^ {4,}\S/.test(line) && entries.length > 0) entries[entries.length - 1] += ` ${line.trim()}`;
  }
  return entries;
}

test('no option of any command states its default twice', () => {
  for (const command of COMMANDS) {
    const help = execFileSync(process.execPath, [CLI, command, '--help'], { encoding: 'utf8' });
    const entries = optionEntries(help);
    assert.ok(entries.length >= 2, `bopt ${command} --help lists its options`);
    for (const entry of entries) assert.ok(entry.split('(default:').length <= 2, `bopt ${command} --help: ${entry}`);
  }
});
