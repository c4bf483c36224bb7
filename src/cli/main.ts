#!/usr/bin/env node
/**
 * The `bopt` command line. Parsing and output only: all work is done by the core modules.
 */
import { Command, CommanderError, Option } from 'commander';
import { BoptError, InputError } from '../errors.js';
import { escapedDatabaseError, isDatabaseError } from '../storage/problems.js';
import { exportCommand, listCommand, queryCommand, statusCommand, type QueryOptions } from './commands/inspect.js';
import { DEFAULT_QUERY_MAX_ROWS, DEFAULT_QUERY_TIMEOUT_S } from './query-run.js';
import { parseIntOption, resumeCommand, runCommand, type RunOptions } from './commands/run.js';
import { planCommand, type PlanOptions } from './commands/plan.js';
import { fitCommand, plotCommand, reportCommand } from './commands/science.js';
import { boptVersion } from '../version.js';
import { workerCommand, type WorkerCommandOptions } from './commands/worker.js';
import { describeError, EXIT_BAD_INPUT, exitCodeOf } from './errors.js';

const program = new Command();
program
  .name('bopt')
  .description('Sweep orchestrator for ML experiments: grids on every core, exact resume, results in SQLite.')
  .version(boptVersion())
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

const dbOption = (): Option => new Option('--db <file>', 'SQLite database (default: $BOPT_DB or db/bopt.sqlite)');
const positiveInt =
  (name: string) =>
  (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InputError(`${name}: expected a positive integer, got "${value}"`);
    return n;
  };

function addRunOptions(cmd: Command): Command {
  return cmd
    .addOption(dbOption())
    .option('-w, --workers <n>', 'worker threads (default: one per core)', positiveInt('--workers'))
    .option('--retries <n>', 'retries of a failing task before it is marked failed', parseIntOption('--retries'), 2)
    .option('--retry-failed', 'put the failed tasks of the sweep back to pending first', false)
    .option('--no-ui', 'plain progress lines instead of the live terminal UI')
    .option(
      '--queue <url>',
      'train on `bopt worker` processes through Redis (redis://[user:pass@]host:port[/db], rediss:// for TLS)',
    )
    .option('--queue-name <name>', "BullMQ queue name, the same as the workers' (default: sweeps)")
    .option(
      '--queue-slots <n>',
      'with --queue: jobs kept queued or running at once (default: 64)',
      positiveInt('--queue-slots'),
    );
}

const nonNegativeNumber =
  (name: string) =>
  (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0)
      throw new InputError(`${name}: expected a number of seconds >= 0, got "${value}"`);
    return n;
  };

let exitCode = 0;

addRunOptions(program.command('run').argument('<file>', 'sweep file (YAML or JSON)'))
  .description('expand a sweep file, store its tasks, and train every pending one (resumes where it stopped)')
  .action(async (file: string, options: RunOptions) => {
    exitCode = await runCommand(file, options);
  });

addRunOptions(program.command('resume').argument('<sweep>', 'name of a stored sweep'))
  .description('continue a stored sweep from the spec saved in the database')
  .action(async (name: string, options: RunOptions) => {
    exitCode = await resumeCommand(name, options);
  });

program
  .command('plan')
  .argument('<file>', 'sweep file (YAML or JSON)')
  .description(
    'dry run: tasks, CPU-hours and wall time of `bopt run FILE` here, priced from stored wall times of similar ' +
      'tasks or a short probe; trains and writes nothing',
  )
  .addOption(dbOption())
  .option(
    '-w, --workers <n>',
    'worker threads to price the wall time for (default: one per core)',
    positiveInt('--workers'),
  )
  .action(async (file: string, options: PlanOptions) => {
    exitCode = await planCommand(file, options);
  });

program
  .command('worker')
  .description('train jobs from a --queue on this machine, until Ctrl-C or SIGTERM (running jobs go back to the queue)')
  .requiredOption('--queue <url>', 'Redis of the coordinator (redis://[user:pass@]host:port[/db], rediss:// for TLS)')
  .option('--queue-name <name>', "BullMQ queue name, the same as the coordinator's (default: sweeps)")
  .option(
    '-w, --workers <n>',
    'jobs trained at once, one thread each (default: one per core)',
    positiveInt('--workers'),
  )
  .option(
    '--stall-ms <ms>',
    'a job whose worker is silent this long goes to another worker (default: 30000)',
    positiveInt('--stall-ms'),
  )
  .action(async (options: WorkerCommandOptions) => {
    exitCode = await workerCommand(options);
  });

program
  .command('watch')
  .argument('[sweep]', 'sweep name (default: the one a coordinator is running, else the last updated)')
  .description('the live UI of a sweep another process is running, read-only from the database')
  .addOption(dbOption())
  .option('--interval <ms>', 'poll period', positiveInt('--interval'), 500)
  .option('--no-ui', 'plain progress lines instead of the live terminal UI')
  .action(async (name: string | undefined, options: { db?: string; ui: boolean; interval: number }) => {
    const { watchCommand } = await import('./commands/watch.js');
    exitCode = await watchCommand(name, options);
  });

program
  .command('status')
  .argument('[sweep]', 'sweep name (default: all)')
  .description('task counts by state, recent throughput and ETA')
  .addOption(dbOption())
  .action((name: string | undefined, options: { db?: string }) => {
    process.stdout.write(statusCommand(name, options));
  });

program
  .command('list')
  .description('the sweeps in the database')
  .addOption(dbOption())
  .option('--format <format>', 'table, csv or json', 'table')
  .action((options: { db?: string; format: string }) => {
    process.stdout.write(listCommand(options));
  });

program
  .command('query')
  .argument('<sql>', 'one SQL statement; the database is opened read-only (views: runs, sweep_status, failures)')
  .description('run SQL against the results')
  .addOption(dbOption())
  .option('--format <format>', 'table, csv or json', 'table')
  .option(
    '--timeout <seconds>',
    'stop the query after this long, 0 for no limit',
    nonNegativeNumber('--timeout'),
    DEFAULT_QUERY_TIMEOUT_S,
  )
  .option(
    '--max-rows <n>',
    'write at most this many rows, 0 for no limit',
    parseIntOption('--max-rows'),
    DEFAULT_QUERY_MAX_ROWS,
  )
  .action(async (sql: string, options: QueryOptions) => {
    exitCode = await queryCommand(sql, options);
  });

program
  .command('export')
  .argument('<sweep>', 'sweep name')
  .description("a sweep's runs (parameters and results) as CSV or JSON")
  .addOption(dbOption())
  .option('--format <format>', 'csv or json', 'csv')
  .option('--curves', 'one row per curve point instead of one per run', false)
  .option('-o, --out <file>', 'write to a file instead of stdout')
  .action((name: string, options: { db?: string; format: string; out?: string; curves: boolean }) => {
    process.stdout.write(exportCommand(name, options));
  });

program
  .command('fit')
  .argument('<sweep>', 'sweep name or sweep file')
  .description(
    'B_opt per group with bootstrap intervals and its line fit (stored in the fits tables); ' +
      'the evidence table for logistic-regression sweeps',
  )
  .addOption(dbOption())
  .option('--format <format>', 'table or json', 'table')
  .option('--bootstrap <n>', 'bootstrap resamples over seeds', parseIntOption('--bootstrap'), 1000)
  .action((name: string, options: { db?: string; format: string; bootstrap: number }) => {
    process.stdout.write(fitCommand(name, options));
  });

program
  .command('plot')
  .argument('<sweep>', 'sweep name or sweep file')
  .description('figures of a sweep: a .svg/.png file (one kind) or a directory (every applicable kind)')
  .addOption(dbOption())
  .requiredOption('-o, --out <path>', 'FILE.svg, FILE.png or a directory')
  .option('--kind <kinds>', 'accuracy, bopt, curves, collapse, evidence, logreg-accuracy (default: what applies)')
  .action(async (name: string, options: { db?: string; out: string; kind?: string }) => {
    process.stdout.write(await plotCommand(name, options));
  });

program
  .command('report')
  .argument('<sweeps...>', 'sweep names or sweep files')
  .description("Markdown report: figures, fit tables and the paper's claims checked against the data")
  .addOption(dbOption())
  .requiredOption('-o, --out <dir>', 'output directory (report.md and the figures)')
  .action(async (names: string[], options: { db?: string; out: string }) => {
    process.stdout.write(await reportCommand(names, options));
  });

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (caught) {
    // A damaged file or a lock met deep inside a command is still the user's environment, not a bug.
    const e = isDatabaseError(caught) ? escapedDatabaseError(caught) : caught;
    if (e instanceof CommanderError) {
      // Commander already printed its one-line message (or the help/version text).
      process.exitCode = e.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
      return;
    }
    if (e instanceof BoptError) {
      process.stderr.write(`bopt: ${describeError(e)}\n`);
      process.exitCode = exitCodeOf(e);
      return;
    }
    process.stderr.write(`bopt: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
    return;
  }
  process.exitCode = exitCode;
}

await main();
