import React, { useMemo, useState } from 'react';
import { css } from '@emotion/css';
import {
  LoadingState,
  formattedValueToString,
  getValueFormat,
  type DataFrame,
  type GrafanaTheme2,
  type PanelProps,
} from '@grafana/data';
import { Alert, Button, IconButton, Input, LinkButton, RadioButtonGroup, useStyles2, useTheme2 } from '@grafana/ui';
import { profilingHref } from '../../components/profilingLink';
import {
  depthOf,
  focusTree,
  frameKinds,
  functionChanges,
  layoutTree,
  matchedShare,
  sandwich,
  searchNodes,
  shareChange,
  shortLabel,
  topFunctions,
  treeFromFrame,
  widthOf,
  type FlameTree,
  type FrameKind,
} from './model';
import { DEFAULT_OPTIONS, EVENT_LABEL, type FlameGraphPanelOptions, type FlameView, type ProfileEvent } from './types';

type Props = PanelProps<FlameGraphPanelOptions>;

/** Height of one frame (px). */
export const ROW_HEIGHT = 18;
/** Frames narrower than this (px) are not drawn, nor their callees: a 16,384-node graph stays a few thousand boxes. */
const MIN_RECT_PX = 1;
/** Frames narrower than this (px) carry no text. */
const MIN_TEXT_PX = 28;
/** Rows of the top-functions table rendered (the rest are counted). */
const TOP_ROWS = 200;

interface Profile {
  event: ProfileEvent;
  tree: FlameTree;
  frame: DataFrame;
}

/** The event of a frame: its query's `event` (matched by refId), else its unit (ns: off-CPU time), else on-CPU. */
function eventOf(frame: DataFrame, targets: Array<{ refId: string; event?: unknown }>): ProfileEvent {
  const q = targets.find((t) => t.refId === frame.refId);
  if (q?.event === 'off_cpu' || q?.event === 'on_cpu') {
    return q.event;
  }
  const unit = frame.fields.find((f) => f.name === 'value')?.config?.unit;
  return unit === 'ns' ? 'off_cpu' : 'on_cpu';
}

function readProfiles(series: DataFrame[], targets: unknown[] | undefined): Profile[] {
  const out: Profile[] = [];
  for (const frame of series) {
    const tree = treeFromFrame(frame);
    if (tree) {
      out.push({ event: eventOf(frame, (targets ?? []) as Array<{ refId: string; event?: unknown }>), tree, frame });
    }
  }
  return out;
}

/** Formats a value in the tree's unit: samples, or time (ns). */
export function formatValue(unit: string, v: number): string {
  if (unit === 'short' || !unit) {
    return `${v.toLocaleString('en-US')} ${v === 1 ? 'sample' : 'samples'}`;
  }
  // no time at all reads as such, not as "0.00 ns"
  return v === 0 ? '0 s' : formattedValueToString(getValueFormat(unit)(v, 2));
}

function formatShare(f: number): string {
  return `${(f * 100).toFixed(f < 0.001 && f > 0 ? 3 : 1)}%`;
}

function formatChange(c: number): string {
  if (c === Infinity) {
    return 'new';
  }
  if (c <= -100) {
    return 'removed';
  }
  const rounded = Math.round(c);
  return rounded === 0 ? '0%' : `${rounded > 0 ? '+' : ''}${rounded}%`;
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  }
  return h >>> 0;
}

/** A frame's colour: warm hues for user code, blue for the kernel, grey for what has no name. */
export function kindColour(kind: FrameKind, label: string): string {
  const h = hash(label);
  switch (kind) {
    case 'kernel':
      return `hsl(${205 + (h % 30)}, 55%, ${58 + (h % 10)}%)`;
    case 'unsymbolized':
      return 'hsl(0, 0%, 62%)';
    case 'marker':
      return 'hsl(0, 0%, 48%)';
    default:
      return `hsl(${10 + (h % 45)}, 78%, ${55 + (h % 10)}%)`;
  }
}

/** A diff frame's colour: red where its share grew, green where it shrank, grey where it held (±100% = full colour). */
export function changeColour(change: number): string {
  const t = Math.min(1, Math.abs(change === Infinity ? 100 : change) / 100);
  if (t < 0.02) {
    return 'hsl(0, 0%, 70%)';
  }
  const hue = change > 0 ? 0 : 120;
  return `hsl(${hue}, ${Math.round(20 + 60 * t)}%, ${Math.round(70 - 22 * t)}%)`;
}

interface GraphProps {
  tree: FlameTree;
  width: number;
  matches: ReadonlySet<number>;
  testId: string;
  onFrameClick?: (index: number) => void;
  selected?: number;
}

/** One flame graph: the root on top, callees below; each frame a box as wide as its value. */
function FlameGraphView({ tree, width, matches, testId, onFrameClick, selected }: GraphProps) {
  const styles = useStyles2(getStyles);
  const theme = useTheme2();
  const rects = useMemo(() => layoutTree(tree, MIN_RECT_PX / Math.max(width, 1)), [tree, width]);
  const kinds = useMemo(() => frameKinds(tree), [tree]);
  // a diff frame reads its function's change, the same wherever the function sits
  const changes = useMemo(() => functionChanges(tree), [tree]);
  const root = tree.nodes[0];
  const searching = matches.size > 0;
  const height = (depthOf(tree) + 1) * ROW_HEIGHT;
  return (
    <div className={styles.graph} style={{ height, width }} data-testid={testId} data-rects={rects.length}>
      {rects.map((r) => {
        const n = tree.nodes[r.index];
        const kind = kinds[r.index];
        const change = tree.diff ? (changes.get(n.label) ?? 0) : undefined;
        const px = r.width * width;
        const match = matches.has(r.index);
        const share = root ? widthOf(n) / (widthOf(root) || 1) : 0;
        const title = [
          n.label,
          `${kind === 'kernel' ? 'kernel' : kind === 'unsymbolized' ? 'unsymbolized (module+offset)' : kind === 'marker' ? 'agent marker' : 'user'} frame`,
          tree.diff
            ? `baseline ${formatValue(tree.unit, n.value)}, comparison ${formatValue(tree.unit, n.valueRight)} here; ${shortLabel(n.label)} in all: ${formatChange(change ?? 0)}`
            : `total ${formatValue(tree.unit, n.value)} (${formatShare(share)}), self ${formatValue(tree.unit, n.self)}`,
        ].join('\n');
        return (
          <div
            key={r.index}
            data-testid="flame-rect"
            data-label={n.label}
            data-level={r.level}
            data-kind={kind}
            data-match={match ? '1' : '0'}
            data-change={change === undefined ? undefined : change === Infinity ? 'new' : change.toFixed(1)}
            data-selected={selected === r.index ? '1' : undefined}
            title={title}
            className={styles.rect}
            onClick={onFrameClick ? () => onFrameClick(r.index) : undefined}
            style={{
              left: r.x * width,
              width: Math.max(px - 1, 1),
              top: r.level * ROW_HEIGHT,
              background: change !== undefined && r.index > 0 ? changeColour(change) : kindColour(kind, n.label),
              opacity: searching && !match ? 0.25 : 1,
              outline: match || selected === r.index ? `2px solid ${theme.colors.text.maxContrast}` : undefined,
              outlineOffset: -2,
              fontStyle: kind === 'kernel' ? 'italic' : undefined,
            }}
          >
            {px >= MIN_TEXT_PX ? shortLabel(n.label) : null}
          </div>
        );
      })}
    </div>
  );
}

interface TableProps {
  tree: FlameTree;
  matches: ReadonlySet<number>;
  onSearch: (label: string) => void;
  onSandwich: (label: string) => void;
}

/** Functions by self value: self and total (a diff: each profile's share and the change). */
function TopTable({ tree, matches, onSearch, onSandwich }: TableProps) {
  const styles = useStyles2(getStyles);
  const rows = useMemo(() => topFunctions(tree), [tree]);
  const matched = useMemo(() => new Set(Array.from(matches, (i) => tree.nodes[i].label)), [matches, tree]);
  const shown = (matched.size > 0 ? rows.filter((r) => matched.has(r.label)) : rows).slice(0, TOP_ROWS);
  const root = tree.nodes[0];
  const left = root?.value || 1;
  const right = root?.valueRight || 1;
  return (
    <div className={styles.table}>
      <table data-testid="flame-top-table">
        <thead>
          <tr>
            <th />
            <th>Function</th>
            {tree.diff ? (
              <>
                <th>Baseline</th>
                <th>Comparison</th>
                <th>Change</th>
              </>
            ) : (
              <>
                <th>Self</th>
                <th>Total</th>
              </>
            )}
          </tr>
        </thead>
        <tbody>
          {shown.map((r) => {
            const bl = r.total / left;
            const cmp = r.totalRight / right;
            const change = shareChange(bl, cmp);
            return (
              <tr key={r.label} data-testid="flame-top-row" data-label={r.label}>
                <td className={styles.actions}>
                  <IconButton
                    name="search"
                    size="sm"
                    tooltip={`Search for ${shortLabel(r.label)}`}
                    onClick={() => onSearch(r.label)}
                  />
                  <IconButton
                    name="gf-show-context"
                    size="sm"
                    tooltip={`Sandwich view of ${shortLabel(r.label)}: its callers and callees`}
                    onClick={() => onSandwich(r.label)}
                  />
                </td>
                <td className={styles.fn} title={r.label}>
                  {shortLabel(r.label)}
                </td>
                {tree.diff ? (
                  <>
                    <td className={styles.num}>{formatShare(bl)}</td>
                    <td className={styles.num}>{formatShare(cmp)}</td>
                    <td className={styles.num} style={{ color: changeColour(change) }} data-testid="flame-top-change">
                      {formatChange(change)}
                    </td>
                  </>
                ) : (
                  <>
                    <td className={styles.num} data-testid="flame-top-self">
                      {formatValue(tree.unit, r.self)}
                    </td>
                    <td className={styles.num} data-testid="flame-top-total">
                      {formatValue(tree.unit, r.total)}
                    </td>
                  </>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
      {rows.length > shown.length && matched.size === 0 && (
        <div className={styles.note}>{rows.length - shown.length} more functions with less self value</div>
      )}
    </div>
  );
}

/** The first value of a query's filter, unless it is a variable left unfilled. */
function literal(v: unknown): string | undefined {
  const first = Array.isArray(v) ? v[0] : v;
  const text = first === undefined || first === null ? '' : String(first).trim();
  return text && !text.includes('$') ? text : undefined;
}

/**
 * The Profiling page over the panel's range with its first flame graph query's service, process and pid: the
 * slowest requests they served in that range, each a click from its trace and its thread.
 */
export function slowestRequestsHref(
  targets: Array<Record<string, unknown>> | undefined,
  range: { from: number; to: number }
): string {
  const q = (targets ?? []).find((t) => t.queryType === 'flamegraph') ?? {};
  return profilingHref({
    service: literal(q.service),
    process: literal(q.process),
    pid: literal(q.pid),
    from: range.from,
    to: range.to,
  });
}

export function FlameGraphPanel({ data, options, width, height }: Props) {
  return (
    <FlameGraphProfile
      slowestHref={slowestRequestsHref(data.request?.targets as Array<Record<string, unknown>> | undefined, {
        from: data.timeRange.from.valueOf(),
        to: data.timeRange.to.valueOf(),
      })}
      series={data.series}
      targets={data.request?.targets}
      errors={
        data.state === LoadingState.Error && !data.errors?.length ? [{ message: 'the query failed' }] : data.errors
      }
      options={options}
      width={width}
      height={height}
    />
  );
}

export interface FlameGraphProfileProps {
  /** the flame graph frames of the queries (one per event, or a diff) */
  series: DataFrame[];
  /** the queries: a frame's event is its query's (by refId) */
  targets?: Array<{ refId: string }>;
  errors?: Array<{ message?: string; data?: { message?: string } }>;
  options: Partial<FlameGraphPanelOptions>;
  width: number;
  height: number;
  /** a link to the slowest requests of what the graph shows in its range (the panel; the page lists them itself) */
  slowestHref?: string;
}

/** What the event switch shows: one profile, or both side by side. */
type Shown = ProfileEvent | 'side';

/** The panel's view of its frames, for the panel and for app pages that ran the query themselves. */
export function FlameGraphProfile({
  series,
  targets,
  errors: queryErrors,
  options,
  width,
  height,
  slowestHref,
}: FlameGraphProfileProps) {
  const styles = useStyles2(getStyles);
  const opts = { ...DEFAULT_OPTIONS, ...options };
  const profiles = useMemo(() => readProfiles(series, targets), [series, targets]);
  const events = Array.from(new Set(profiles.map((p) => p.event)));
  const both = events.includes('on_cpu') && events.includes('off_cpu');
  const [chosen, setChosen] = useState<Shown | undefined>(undefined);
  const wanted: Shown = chosen ?? (opts.sideBySide ? 'side' : opts.event);
  const shown: Shown | undefined =
    wanted === 'side' ? (both ? 'side' : events[0]) : events.includes(wanted) ? wanted : events[0];
  const [search, setSearch] = useState('');
  const [view, setView] = useState<FlameView | undefined>(undefined);
  const shownView = view ?? opts.view;

  const errors = queryErrors ?? [];
  if (errors.length > 0) {
    return (
      <div className={styles.wrap} style={{ width, height }}>
        <Alert title="The flame graph query failed" severity="error" data-testid="flame-error">
          {errors.map((e) => e.message || e.data?.message).join('; ') || 'unknown error'}
        </Alert>
      </div>
    );
  }
  if (!shown) {
    return (
      <div className={styles.wrap} style={{ width, height }}>
        <div className={styles.empty} data-testid="flame-empty">
          No flame graph in the answer: use the FlowLens datasource&apos;s Flame graph query (queryType flamegraph).
        </div>
      </div>
    );
  }
  const onEach = shown === 'side' ? (['on_cpu', 'off_cpu'] as ProfileEvent[]) : [shown];
  const gap = 12;
  const columnWidth = Math.max((width - 16 - gap * (onEach.length - 1)) / onEach.length, 100);
  const choices: Array<{ value: Shown; label: string; description?: string }> = [
    ...(['on_cpu', 'off_cpu'] as ProfileEvent[]).map((e) => ({
      value: e as Shown,
      label: EVENT_LABEL[e],
      description: events.includes(e) ? undefined : 'no query of the panel asks for it',
    })),
    {
      value: 'side',
      label: 'Side by side',
      description: both ? 'on-CPU and off-CPU next to each other' : 'needs an on-CPU and an off-CPU query',
    },
  ];
  return (
    <div className={styles.wrap} style={{ width, height }} data-testid="flamegraph-panel" data-shown={shown}>
      <div className={styles.toolbar}>
        <RadioButtonGroup<Shown>
          size="sm"
          value={shown}
          options={choices}
          disabledOptions={choices
            .filter((c) => (c.value === 'side' ? !both : !events.includes(c.value)))
            .map((c) => c.value)}
          onChange={setChosen}
        />
        <Input
          className={styles.search}
          data-testid="flame-search"
          placeholder="Search functions"
          value={search}
          onChange={(e) => setSearch(e.currentTarget.value)}
          width={28}
        />
        <RadioButtonGroup<FlameView>
          size="sm"
          value={shownView}
          options={[
            { value: 'both', label: 'Both' },
            { value: 'graph', label: 'Flame graph' },
            { value: 'table', label: 'Top functions' },
          ]}
          onChange={setView}
        />
        {slowestHref && (
          <LinkButton
            size="sm"
            variant="secondary"
            icon="clock-nine"
            href={slowestHref}
            data-testid="flame-slowest"
            tooltip="The slowest requests served in this range (Profiling page): each opens its trace or its thread"
          >
            Slowest requests
          </LinkButton>
        )}
      </div>
      <div className={styles.columns}>
        {onEach.map((e) => (
          <ProfileView
            key={e}
            profile={profiles.find((p) => p.event === e)!}
            search={search}
            setSearch={setSearch}
            view={shownView}
            width={columnWidth}
          />
        ))}
      </div>
      <div className={styles.legend}>
        <span style={{ background: kindColour('user', 'main') }}>user</span>
        <span style={{ background: kindColour('kernel', 'schedule'), fontStyle: 'italic' }}>kernel</span>
        <span style={{ background: kindColour('unsymbolized', '') }}>module+0xoffset (no symbol)</span>
      </div>
    </div>
  );
}

interface ProfileViewProps {
  profile: Profile;
  search: string;
  setSearch: (s: string) => void;
  view: FlameView;
  /** the column's width (px) */
  width: number;
}

/** One profile (on-CPU or off-CPU): its summary, its graph (focus, sandwich) and its top functions. */
function ProfileView({ profile, search, setSearch, view, width }: ProfileViewProps) {
  const styles = useStyles2(getStyles);
  const [focus, setFocus] = useState<{ tree: FlameTree; index: number } | undefined>(undefined);
  const [sandwichLabel, setSandwich] = useState<string | undefined>(undefined);
  const base = profile.tree;
  const { focused, sw, tree, matches } = useMemo(() => {
    // a focus belongs to the tree it was made on: a new answer drops it
    const focused = focus && focus.tree === base ? focusTree(base, focus.index) : undefined;
    const sw = sandwichLabel ? sandwich(base, sandwichLabel) : undefined;
    const tree = focused?.tree ?? base;
    const matches = searchNodes(tree, search);
    return { focused, sw, tree, matches };
  }, [base, focus, sandwichLabel, search]);
  const notices = profile.frame.meta?.notices ?? [];
  const root = base.nodes[0];
  const onFrameClick = (i: number) => {
    if (focused && tree === focused.tree) {
      // a click in a focused graph: the focus moves to that frame of the original tree
      const path: string[] = [];
      for (let p = i; p >= 0; p = tree.nodes[p].parent) {
        path.unshift(tree.nodes[p].label);
      }
      let at = 0;
      for (const label of path.slice(1)) {
        const next = base.nodes[at].children.find((c) => base.nodes[c].label === label);
        if (next === undefined) {
          return;
        }
        at = next;
      }
      setFocus(at === 0 ? undefined : { tree: base, index: at });
      return;
    }
    setFocus(i === 0 ? undefined : { tree: base, index: i });
  };
  const total = base.diff
    ? `baseline ${formatValue(base.unit, root.value)}, comparison ${formatValue(base.unit, root.valueRight)}`
    : formatValue(base.unit, root.value);
  return (
    <div className={styles.profile} style={{ width }} data-testid="flame-profile" data-event={profile.event}>
      <div className={styles.summary} data-testid="flame-summary">
        {EVENT_LABEL[profile.event]} · {total} · {base.nodes.length.toLocaleString('en-US')} nodes
        {base.diff ? ' · red: a larger share than in the baseline, green: smaller' : ''}
        {search.trim() && (
          <span data-testid="flame-matches">
            {' '}
            · {matches.size} {matches.size === 1 ? 'frame matches' : 'frames match'} &quot;{search.trim()}&quot; (
            {formatShare(matchedShare(tree, matches))} of the total)
          </span>
        )}
      </div>
      {(focused || sandwichLabel) && (
        <div className={styles.toolbar}>
          {focused && (
            <Button
              size="sm"
              variant="secondary"
              icon="times"
              onClick={() => setFocus(undefined)}
              data-testid="flame-unfocus"
            >
              Focus: {shortLabel(base.nodes[focus!.index].label)}
            </Button>
          )}
          {sandwichLabel && (
            <Button
              size="sm"
              variant="secondary"
              icon="times"
              onClick={() => setSandwich(undefined)}
              data-testid="flame-unsandwich"
            >
              Sandwich: {shortLabel(sandwichLabel)}
            </Button>
          )}
        </div>
      )}
      {notices.map((n, k) => (
        <div key={k} className={styles.notice} data-testid="flame-notice">
          {n.text}
        </div>
      ))}
      <div className={styles.body}>
        {view !== 'table' && (
          <div className={styles.scroll}>
            {sw ? (
              <>
                <div className={styles.caption}>
                  Callers of {shortLabel(sandwichLabel!)} (each caller one level down)
                </div>
                <FlameGraphView tree={sw.callers} width={width} matches={new Set()} testId="flame-callers" />
                <div className={styles.caption}>Callees of {shortLabel(sandwichLabel!)}</div>
                <FlameGraphView tree={sw.callees} width={width} matches={new Set()} testId="flame-callees" />
              </>
            ) : (
              <FlameGraphView
                tree={tree}
                width={width}
                matches={matches}
                testId="flame-graph"
                onFrameClick={onFrameClick}
                selected={focused?.focused}
              />
            )}
          </div>
        )}
        {view !== 'graph' && (
          <TopTable
            tree={tree}
            matches={matches}
            onSearch={setSearch}
            onSandwich={(l) => setSandwich(l === sandwichLabel ? undefined : l)}
          />
        )}
      </div>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  wrap: css({ display: 'flex', flexDirection: 'column', overflow: 'hidden', gap: theme.spacing(0.5) }),
  columns: css({ flex: 1, minHeight: 0, display: 'flex', gap: 12 }),
  profile: css({ display: 'flex', flexDirection: 'column', minHeight: 0, gap: theme.spacing(0.5) }),
  toolbar: css({ display: 'flex', flexWrap: 'wrap', gap: theme.spacing(1), alignItems: 'center' }),
  search: css({ flex: '0 0 auto' }),
  summary: css({ fontSize: theme.typography.bodySmall.fontSize, color: theme.colors.text.secondary }),
  notice: css({ fontSize: theme.typography.bodySmall.fontSize, color: theme.colors.warning.text }),
  body: css({
    flex: 1,
    minHeight: 0,
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(1),
    overflow: 'hidden',
  }),
  scroll: css({ flex: '1 1 60%', minHeight: 0, overflowY: 'auto', overflowX: 'hidden' }),
  caption: css({ fontSize: theme.typography.bodySmall.fontSize, margin: theme.spacing(0.5, 0) }),
  graph: css({ position: 'relative' }),
  rect: css({
    position: 'absolute',
    height: ROW_HEIGHT - 1,
    lineHeight: `${ROW_HEIGHT - 1}px`,
    fontSize: 11,
    color: '#1b1b1b',
    padding: '0 3px',
    overflow: 'hidden',
    whiteSpace: 'nowrap',
    textOverflow: 'ellipsis',
    cursor: 'pointer',
    boxSizing: 'border-box',
    borderRadius: 1,
  }),
  table: css({
    flex: '1 1 40%',
    minHeight: 0,
    overflowY: 'auto',
    fontSize: theme.typography.bodySmall.fontSize,
    table: { width: '100%', borderCollapse: 'collapse' },
    'th, td': {
      textAlign: 'left',
      padding: theme.spacing(0.25, 1),
      borderBottom: `1px solid ${theme.colors.border.weak}`,
    },
    th: { position: 'sticky', top: 0, background: theme.colors.background.primary },
  }),
  actions: css({ whiteSpace: 'nowrap', width: 52 }),
  fn: css({ fontFamily: theme.typography.fontFamilyMonospace, wordBreak: 'break-all' }),
  // a value on one line ("24 samples"): a long function name takes the room, never the number's
  num: css({ whiteSpace: 'nowrap' }),
  note: css({ color: theme.colors.text.secondary, padding: theme.spacing(0.5, 1) }),
  empty: css({ color: theme.colors.text.secondary, padding: theme.spacing(2) }),
  legend: css({
    display: 'flex',
    gap: theme.spacing(1),
    fontSize: 11,
    span: { color: '#1b1b1b', padding: '0 6px', borderRadius: 2 },
  }),
});
