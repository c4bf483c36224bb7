/**
 * The live terminal UI's components. They draw a ViewModel and nothing else: whoever mounts them
 * (live.tsx for `bopt run`, watch.ts for `bopt watch`) decides when a new one is drawn.
 *
 * Every line is a single <Text wrap="truncate-end"> inside a box one column narrower than the
 * terminal, and the whole frame is kept below the terminal's height, so any width from 60 to 200
 * lays out without wrapping, and a resize re-lays out at once.
 */
import { Box, Text, useInput, useStdin, useStdout } from 'ink';
import { useEffect, useState, type ReactNode } from 'react';
import { SYMBOL } from '../analysis/swept.js';
import { drawChart, symbolOf, type ChartLine } from './chart.js';
import { formatDuration, formatParams, progressBar } from './format.js';
import { bOptText, fitText } from './fit-text.js';
import type { ScienceView } from './science.js';
import type { SearchProgress } from '../scheduler/events.js';
import { searchGroupText, searchSummary } from './search-text.js';
import type { FailureView, Phase, ViewModel, WorkerView } from './state.js';

export const PANELS = ['overview', 'science', 'search', 'failures'] as const;
export type Panel = (typeof PANELS)[number];

const GROUP_COLORS = [
  'cyan',
  'magenta',
  'yellow',
  'green',
  'blue',
  'red',
  'white',
  'gray',
  'cyanBright',
  'magentaBright',
];
const PHASE_COLOR: Record<Phase, string> = {
  starting: 'gray',
  running: 'green',
  paused: 'yellow',
  stopping: 'yellow',
  complete: 'green',
  interrupted: 'yellow',
  stopped: 'gray',
};

export interface AppProps {
  vm: ViewModel;
  /** Colour and styles; false under NO_COLOR. */
  color?: boolean;
  initialPanel?: Panel;
  onQuit?: () => void;
  onTogglePause?: () => void;
  /** Watch mode: no pause key. */
  readOnly?: boolean;
  /** Override the terminal size (tests). */
  columns?: number;
  rows?: number;
}

interface Ctx {
  color: boolean;
  width: number;
}

/** One line, truncated to the frame width. */
function Line({ children, color, bold, dim }: { children: ReactNode; color?: string; bold?: boolean; dim?: boolean }) {
  return (
    <Text wrap="truncate-end" color={color} bold={bold} dimColor={dim}>
      {children}
    </Text>
  );
}

function terminalSize(stdout: NodeJS.WriteStream): { columns: number; rows: number } {
  return { columns: stdout.columns ?? 100, rows: stdout.rows ?? 40 };
}

/** The terminal's size, followed on resize; a given columns or rows overrides that dimension. */
function useTerminalSize(columns?: number, rows?: number): { columns: number; rows: number } {
  const { stdout } = useStdout();
  const [size, setSize] = useState(() => terminalSize(stdout));
  useEffect(() => {
    const onResize = () => setSize(terminalSize(stdout));
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  return { columns: columns ?? size.columns, rows: rows ?? size.rows };
}

export function App(props: AppProps) {
  const { vm, readOnly = false } = props;
  const color = props.color ?? true;
  const size = useTerminalSize(props.columns, props.rows);
  const [panel, setPanel] = useState<Panel>(props.initialPanel ?? 'overview');
  const { isRawModeSupported } = useStdin();
  useInput(
    (input, key) => {
      if (key.tab) {
        setPanel((current) => PANELS[(PANELS.indexOf(current) + (key.shift ? PANELS.length - 1 : 1)) % PANELS.length]!);
      } else if (input === 'q' || (key.ctrl && input === 'c')) props.onQuit?.();
      else if (input === 'p' && !readOnly) props.onTogglePause?.();
    },
    { isActive: isRawModeSupported === true },
  );

  const width = Math.max(40, Math.min(size.columns, 400) - 1);
  // Ink redraws in place only while the frame is shorter than the screen.
  const height = Math.max(12, size.rows - 1);
  const ctx: Ctx = { color, width };
  const header = headerLines(vm, ctx);
  const budget = height - header.length - 1;
  let body: ReactNode[];
  if (panel === 'science') body = scienceLines(vm.science, ctx, budget, true);
  else if (panel === 'failures') body = failureLines(vm.failures, ctx, budget, true);
  else if (panel === 'search') body = searchLines(vm.search, ctx, budget);
  else body = overviewLines(vm, ctx, budget);
  return (
    <Box flexDirection="column" width={width}>
      {header}
      <TabBar panel={panel} vm={vm} ctx={ctx} readOnly={readOnly} />
      {body}
    </Box>
  );
}

function TabBar({ panel, vm, ctx, readOnly }: { panel: Panel; vm: ViewModel; ctx: Ctx; readOnly: boolean }) {
  const name = (p: Panel) => (p === 'failures' ? `failures (${vm.failures.length})` : p);
  const keys = readOnly
    ? 'q quit · tab panels'
    : `q stop · p ${vm.phase === 'paused' ? 'resume' : 'pause'} · tab panels`;
  return (
    <Text wrap="truncate-end">
      {PANELS.map((p) => {
        const active = p === panel;
        if (!ctx.color) return <Text key={p}>{active ? `[${name(p)}]` : ` ${name(p)} `} </Text>;
        return (
          <Text key={p} inverse={active} bold={active}>
            {` ${name(p)} `}
          </Text>
        );
      })}
      <Text color={ctx.color ? 'gray' : undefined}>{'  ' + keys}</Text>
    </Text>
  );
}

function headerLines(vm: ViewModel, ctx: Ctx): ReactNode[] {
  const c = (name: string) => (ctx.color ? name : undefined);
  const phase = vm.phase === 'stopping' ? 'stopping (running tasks return to pending)' : vm.phase;
  const workers =
    vm.workers === null ? `${vm.counts.running} running` : `${vm.workers} worker${vm.workers === 1 ? '' : 's'}`;
  const pct = `${(vm.fraction * 100).toFixed(vm.fraction < 0.1 ? 1 : 0)}%`;
  const barWidth = Math.max(10, ctx.width - pct.length - 3);
  const { done, running, pending, failed } = vm.counts;
  const retries = vm.retries ? ` · retries ${vm.retries}` : '';
  const counts = `done ${done}/${vm.total} · running ${running} · pending ${pending} · failed ${failed}${retries}`;
  const eta =
    vm.phase === 'complete'
      ? 'finished'
      : vm.phase === 'interrupted' || vm.phase === 'stopped'
        ? `stopped: bopt resume ${vm.sweep}`
        : vm.phase === 'paused'
          ? 'ETA paused'
          : vm.etaMs === null
            ? 'ETA …'
            : `ETA ${formatDuration(vm.etaMs)}${vm.etaMaxMs !== null ? ` (at most ${formatDuration(vm.etaMaxMs)})` : ''}`;
  const perMinute = vm.tasksPerMinute === null ? '…' : vm.tasksPerMinute.toFixed(vm.tasksPerMinute < 10 ? 1 : 0);
  const rate = `${perMinute} tasks/min · ${eta} (cost model)`;
  const lines: ReactNode[] = [
    <Text key="title" wrap="truncate-end">
      <Text bold={ctx.color}>bopt{vm.mode === 'watch' ? ' watch' : ''}</Text>
      {'  '}
      <Text bold={ctx.color} color={c('cyan')}>
        {vm.sweep || '…'}
      </Text>
      {'  '}
      <Text color={c(PHASE_COLOR[vm.phase])}>{phase}</Text>
      {`  ${formatDuration(vm.elapsedMs)}`}
      {vm.note ? `  · ${vm.note}` : ''}
    </Text>,
    <Line key="db" color={c('gray')}>{`db ${vm.database || '…'} · engine ${vm.engine || '…'} · ${workers}`}</Line>,
    <Text key="bar" wrap="truncate-end">
      <Text color={c('green')}>{progressBar(vm.fraction, barWidth)}</Text>
      {` ${pct}`}
    </Text>,
  ];
  if (ctx.width >= counts.length + rate.length + 3) {
    lines.push(<Line key="counts">{`${counts} · ${rate}`}</Line>);
  } else {
    lines.push(<Line key="counts">{counts}</Line>, <Line key="rate">{rate}</Line>);
  }
  return lines;
}

function workerLine(w: WorkerView, ctx: Ctx, laneWidth: number): ReactNode {
  const c = (name: string) => (ctx.color ? name : undefined);
  const lane = `w${w.lane}`.padEnd(laneWidth + 1);
  const steps = `${w.step}/${w.totalSteps}`;
  const miniBar = progressBar(w.totalSteps > 0 ? w.step / w.totalSteps : 0, 8);
  const loss = w.loss === null ? 'loss …' : `loss ${Number.isFinite(w.loss) ? w.loss.toFixed(3) : 'NaN'}`;
  const attempt = w.attempt > 1 ? ` (attempt ${w.attempt})` : '';
  const threads = (w.threads ?? 1) > 1 ? ` · ${w.threads} threads` : '';
  return (
    <Text key={`w${w.lane}-${w.key}`} wrap="truncate-end">
      {lane}
      <Text color={c('green')}>{miniBar}</Text>
      {` ${steps.padStart(11)}  ${loss.padEnd(11)} `}
      <Text color={c('cyan')}>{w.params ? formatParams(w.params) : w.key.slice(0, 12)}</Text>
      {attempt}
      {threads}
    </Text>
  );
}

function workerLines(vm: ViewModel, ctx: Ctx, budget: number): ReactNode[] {
  if (budget <= 0) return [];
  const lanes = vm.workers ?? 0;
  const byLane = new Map(vm.running.map((w) => [w.lane, w]));
  const laneWidth = String(Math.max(lanes, ...vm.running.map((w) => w.lane + 1), 1)).length;
  const rows: ReactNode[] = [];
  const all: Array<WorkerView | number> = [];
  for (let lane = 0; lane < lanes; lane++) all.push(byLane.get(lane) ?? lane);
  for (const w of vm.running) if (w.lane >= lanes) all.push(w);
  const active = vm.phase === 'running' || vm.phase === 'paused' || vm.phase === 'stopping' || vm.phase === 'starting';
  // When lines are short, show busy lanes first.
  const ordered =
    all.length > budget
      ? [...all.filter((x) => typeof x !== 'number'), ...all.filter((x) => typeof x === 'number')]
      : all;
  const shown = ordered.length > budget ? ordered.slice(0, Math.max(0, budget - 1)) : ordered;
  for (const x of shown) {
    if (typeof x === 'number')
      rows.push(
        <Line key={`idle${x}`} dim={ctx.color}>{`${`w${x}`.padEnd(laneWidth + 2)}${active ? 'idle' : '—'}`}</Line>,
      );
    else rows.push(workerLine(x, ctx, laneWidth + 1));
  }
  if (shown.length < ordered.length)
    rows.push(
      <Line
        key="more"
        dim={ctx.color}
      >{`… ${ordered.length - shown.length} more lanes (widen or heighten the terminal)`}</Line>,
    );
  if (rows.length === 0)
    rows.push(
      <Line key="none" dim={ctx.color}>
        no task running
      </Line>,
    );
  return rows;
}

function failureLine(f: FailureView, ctx: Ctx, i: number): ReactNode {
  const c = (name: string) => (ctx.color ? name : undefined);
  const what = f.final ? `failed after ${f.attempts}` : `attempt ${f.attempts} failed, retrying`;
  return (
    <Text key={`f${i}-${f.key}`} wrap="truncate-end">
      <Text color={c(f.final ? 'red' : 'yellow')}>{f.final ? '✗ ' : '↻ '}</Text>
      {`${f.key.slice(0, 8)} ${what}: `}
      <Text color={c(f.final ? 'red' : 'yellow')}>{f.error}</Text>
      <Text color={c('gray')}>{f.params ? `  (${formatParams(f.params)})` : ''}</Text>
    </Text>
  );
}

function failureLines(failures: FailureView[], ctx: Ctx, budget: number, full: boolean): ReactNode[] {
  if (budget <= 0) return [];
  if (failures.length === 0)
    return full
      ? [
          <Line key="nofail" dim={ctx.color}>
            no failures
          </Line>,
        ]
      : [];
  const n = Math.min(failures.length, full ? budget : Math.min(3, budget - 1));
  const out: ReactNode[] = [];
  if (!full) out.push(<Line key="fhead" bold={ctx.color}>{`last failures (${failures.length})`}</Line>);
  failures.slice(0, n).forEach((f, i) => out.push(failureLine(f, ctx, i)));
  return out;
}

function chartLine(line: ChartLine, ctx: Ctx, key: string): ReactNode {
  return (
    <Text key={key} wrap="truncate-end">
      {line.map((s, i) =>
        s.group === null || !ctx.color ? (
          <Text key={i}>{s.text}</Text>
        ) : (
          <Text
            key={i}
            color={GROUP_COLORS[s.group % GROUP_COLORS.length]}
            bold={s.strong}
            inverse={s.strong && s.text.trim() !== ''}
          >
            {s.text}
          </Text>
        ),
      )}
    </Text>
  );
}

function scienceLines(science: ScienceView, ctx: Ctx, budget: number, full: boolean): ReactNode[] {
  if (budget <= 0) return [];
  const c = (i: number) => (ctx.color ? GROUP_COLORS[i % GROUP_COLORS.length] : undefined);
  const title = `test accuracy vs log B${science.variable ? ` by ${SYMBOL[science.variable]}` : ''} · ${science.runs} results`;
  const out: ReactNode[] = [
    <Line key="stitle" bold={ctx.color}>
      {title}
    </Line>,
  ];
  if (budget === 1) return out;
  const groups = science.groups;
  // Legend entries, several per line when wide.
  const entries = groups.map((g, i) => ({
    i,
    text: `${symbolOf(i)} ${g.label}: B_opt ${bOptText(g)}`,
  }));
  const entryW = Math.max(10, ...entries.map((e) => e.text.length)) + 2;
  const perLine = Math.max(1, Math.floor(ctx.width / entryW));
  const legendNeed = Math.ceil(entries.length / perLine);
  const fitLines = 1;
  const maxChart = full ? 24 : 10;
  const chartH = Math.min(maxChart, budget - 1 - fitLines - Math.min(legendNeed, full ? legendNeed : 2) - 3);
  if (chartH >= 3 && groups.length > 0) {
    drawChart(groups, Math.min(ctx.width, full ? 160 : 120), chartH).forEach((l, i) =>
      out.push(chartLine(l, ctx, `c${i}`)),
    );
  }
  const legendBudget = budget - out.length - fitLines;
  for (let l = 0; l < Math.min(legendNeed, Math.max(0, legendBudget)); l++) {
    const slice = entries.slice(l * perLine, (l + 1) * perLine);
    const last = l === legendBudget - 1 && legendNeed > legendBudget;
    out.push(
      <Text key={`lg${l}`} wrap="truncate-end">
        {slice.map((e) => (
          <Text key={e.i} color={c(e.i)}>
            {e.text.padEnd(entryW)}
          </Text>
        ))}
        {last ? `… ${entries.length - (l + 1) * perLine} more` : ''}
      </Text>,
    );
  }
  if (out.length < budget) out.push(<Line key="fit">{fitText(science)}</Line>);
  return out;
}

/** The search panel: the budget line, then one line per group (bracket, round, points, budget). */
function searchLines(search: SearchProgress | null, ctx: Ctx, budget: number): ReactNode[] {
  if (budget <= 0) return [];
  if (!search) return [<Line key="nosearch">a grid sweep: every task is fixed in advance (no search: section)</Line>];
  const out: ReactNode[] = [
    <Line key="stitle" bold={ctx.color}>
      {searchSummary(search)}
    </Line>,
  ];
  const rows = search.groups.map((g, i) => <Line key={`sg${i}`}>{searchGroupText(g)}</Line>);
  const room = budget - out.length;
  if (rows.length <= room) return [...out, ...rows];
  return [
    ...out,
    ...rows.slice(0, Math.max(0, room - 1)),
    <Line key="smore" dim>{`… ${rows.length - Math.max(0, room - 1)} more groups`}</Line>,
  ];
}

function overviewLines(vm: ViewModel, ctx: Ctx, budget: number): ReactNode[] {
  if (vm.search && budget > 4) {
    return [
      <Line key="search">{searchSummary(vm.search)}</Line>,
      ...overviewLines({ ...vm, search: null }, ctx, budget - 1),
    ];
  }
  const failN = vm.failures.length ? Math.min(3, vm.failures.length) + 1 : 0;
  const lanes = Math.max(vm.workers ?? 0, vm.running.length, 1);
  const scienceMin = 3;
  const workerBudget = Math.max(1, Math.min(lanes, budget - failN - scienceMin));
  const workers = workerLines(vm, ctx, workerBudget);
  const scienceBudget = budget - workers.length - failN;
  return [
    ...workers,
    ...scienceLines(vm.science, ctx, scienceBudget, false),
    ...failureLines(vm.failures, ctx, failN, false),
  ];
}
