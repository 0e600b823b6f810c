import React, { useEffect, useLayoutEffect, useMemo, useState } from 'react';
import { css, cx } from '@emotion/css';
import { LoadingState, type DataFrame, type DataQueryError, type GrafanaTheme2, type PanelProps } from '@grafana/data';
import { Alert, Icon, IconButton, RadioButtonGroup, useStyles2, useTheme2 } from '@grafana/ui';
import {
  HOP_KIND_LABEL,
  HOP_KINDS,
  OBSERVATION_LABEL,
  buildTree,
  formatMs,
  formatShare,
  groupByHop,
  traceModel,
  verdictSentence,
  networkLines,
  visibleRows,
  type HopGroup,
  type HopShare,
  type TraceModel,
  type TraceSpan,
  type TreeRow,
} from './model';
import { SpanDetails } from './SpanDetails';
import type { DatasourceRef } from './links';
import { DEFAULT_OPTIONS, type TraceLayout, type TracePanelOptions } from './types';

type Props = PanelProps<TracePanelOptions>;

/** Row height of the waterfall (px): rows are absolutely placed, only the ones in view are rendered. */
export const ROW_HEIGHT = 24;
/** Rows rendered above and below the visible window. */
const OVERSCAN = 8;
/** Indentation per level, and the deepest level indented further (a 2,000-span chain stays readable). */
const INDENT = 12;
const MAX_INDENT_LEVELS = 24;

/** Hop kind colours (Grafana's named palette, so both themes keep them apart). */
const KIND_COLOUR: Record<string, string> = {
  client_app: 'green',
  network: 'yellow',
  gateway: 'orange',
  server_app: 'blue',
  dependency: 'purple',
};

export function useKindColour(): (kind: string) => string {
  const theme = useTheme2();
  return (kind: string) => theme.visualization.getColorByName(KIND_COLOUR[kind] ?? 'text');
}

type Item = { type: 'span'; row: TreeRow } | { type: 'hop'; group: HopGroup };

function itemsOf(
  model: TraceModel,
  rows: TreeRow[],
  layout: TracePanelOptions['layout'],
  collapsed: ReadonlySet<string>
): Item[] {
  if (layout === 'hops') {
    const out: Item[] = [];
    for (const g of groupByHop(model)) {
      out.push({ type: 'hop', group: g });
      if (!collapsed.has(`hop:${g.hop.hop}`)) {
        for (const span of g.spans) {
          out.push({ type: 'span', row: { span, depth: 1, children: 0, descendants: 0 } });
        }
      }
    }
    return out;
  }
  return visibleRows(rows, collapsed).map((row) => ({ type: 'span', row }));
}

function datasourceOf(data: Props['data']): DatasourceRef | undefined {
  const target = data.request?.targets?.[0];
  const ds = target?.datasource;
  return ds && typeof ds === 'object' ? { uid: ds.uid, type: ds.type } : undefined;
}

const LAYOUTS: Array<{ value: TraceLayout; label: string; description: string }> = [
  { value: 'tree', label: 'Call tree', description: 'Each span under its parent' },
  { value: 'hops', label: 'By hop', description: 'The spans grouped by the hop they belong to' },
];

/** The panel: its options and query result handed to the view both it and the app's Traces page draw. */
export function TracePanel({ data, width, height, options, onOptionsChange }: Props) {
  return (
    <TraceView
      series={data.series}
      state={data.state}
      errors={data.errors}
      datasource={datasourceOf(data)}
      width={width}
      height={height}
      layout={options.layout ?? DEFAULT_OPTIONS.layout}
      showHopStrip={options.showHopStrip ?? DEFAULT_OPTIONS.showHopStrip}
      onLayoutChange={(layout) => onOptionsChange({ ...options, layout })}
    />
  );
}

export interface TraceViewProps {
  /** the trace query's frames (`trace`, `verdict`) */
  series: DataFrame[];
  state?: LoadingState;
  errors?: DataQueryError[];
  /** the datasource the trace came from: the spans' links query it */
  datasource?: DatasourceRef;
  width: number;
  height: number;
  layout: TraceLayout;
  showHopStrip: boolean;
  onLayoutChange: (layout: TraceLayout) => void;
}

/** The full-stack trace of one query result: verdict, hop strip, waterfall and a span's details. */
export function TraceView({
  series,
  state,
  errors: queryErrors,
  datasource,
  width,
  height,
  layout,
  showHopStrip,
  onLayoutChange,
}: TraceViewProps) {
  const s = useStyles2(getStyles);
  const colour = useKindColour();
  const model = useMemo(() => traceModel(series), [series]);
  const rows = useMemo(() => (model ? buildTree(model.spans) : []), [model]);
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(new Set());
  const [selected, setSelected] = useState<string | undefined>();
  const [focusHop, setFocusHop] = useState<string | undefined>();
  const [scrollTop, setScrollTop] = useState(0);
  // a callback ref: the rows' container exists only once a trace is shown
  const [body, setBody] = useState<HTMLDivElement | null>(null);
  const [bodyHeight, setBodyHeight] = useState(0);

  useLayoutEffect(() => {
    // the observer reports the first size right after observe(); until then (and in jsdom) the panel height bounds it
    if (!body || typeof ResizeObserver === 'undefined') {
      return;
    }
    const ro = new ResizeObserver(() => setBodyHeight(body.clientHeight));
    ro.observe(body);
    return () => ro.disconnect();
  }, [body]);

  const items = useMemo(() => (model ? itemsOf(model, rows, layout, collapsed) : []), [model, rows, layout, collapsed]);

  // the chosen span stays in view when its details open (they take half of a narrow panel)
  useEffect(() => {
    if (!body || !selected) {
      return;
    }
    const i = items.findIndex((it) => it.type === 'span' && it.row.span.spanID === selected);
    const view = body.clientHeight;
    if (i >= 0 && view > 0 && (i * ROW_HEIGHT < body.scrollTop || (i + 1) * ROW_HEIGHT > body.scrollTop + view)) {
      body.scrollTo({ top: Math.max(0, i * ROW_HEIGHT - view / 2) });
    }
  }, [body, selected, items, bodyHeight]);

  const errors = queryErrors ?? [];
  if (state === LoadingState.Error || errors.length > 0) {
    return (
      <div className={s.message} style={{ width, height }} data-testid="trace-error">
        <Alert severity="error" title="The trace query failed">
          {errors.map((e, i) => (
            <div key={i}>{e.message || e.data?.message || 'unknown error'}</div>
          ))}
        </Alert>
      </div>
    );
  }
  if (!model || model.spans.length === 0) {
    return (
      <div className={s.message} style={{ width, height }} data-testid="trace-empty">
        <div>
          No trace to show. Use a FlowLens query of type <code>trace</code> (a request log&apos;s <code>row_id</code>{' '}
          and <code>time</code>, or a <code>trace_id</code> / X-Request-ID), which returns the <code>trace</code> and{' '}
          <code>verdict</code> frames.
        </div>
        {model?.notices.map((n, i) => (
          <div key={i} className={s.notice} data-testid="trace-notice">
            {n.text}
          </div>
        ))}
      </div>
    );
  }

  const selectedSpan = selected ? model.spans.find((x) => x.spanID === selected) : undefined;
  const side = !!selectedSpan && width >= 900;
  const waterfallWidth = side ? Math.round(width * 0.58) : width;
  const labelWidth = Math.min(420, Math.max(180, Math.round(waterfallWidth * 0.38)));
  const total = Math.max(model.endMs - model.startMs, 1e-6);
  const viewport = bodyHeight || height;
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(items.length, Math.ceil((scrollTop + viewport) / ROW_HEIGHT) + OVERSCAN);

  const toggle = (key: string) =>
    setCollapsed((prev) => {
      const next = new Set(prev);
      if (!next.delete(key)) {
        next.add(key);
      }
      return next;
    });

  const sentence = verdictSentence(model);
  const netLines = networkLines(model);
  return (
    <div className={s.container} style={{ width, height }} data-testid="trace-panel">
      <div className={s.header}>
        <div className={s.titleRow}>
          <div className={s.verdict} data-testid="trace-verdict" data-culprit={model.culprit?.hop ?? ''}>
            {sentence || 'No verdict: the trace has no critical path (zero duration).'}
          </div>
          <RadioButtonGroup
            size="sm"
            options={LAYOUTS}
            value={layout}
            onChange={onLayoutChange}
            aria-label="Rows of the waterfall"
          />
        </div>
        {netLines.length > 0 && (
          <div className={s.network} data-testid="trace-network">
            {netLines.map((l, i) => (
              <div key={i} data-testid="trace-network-line">
                <Icon name="exchange-alt" size="sm" /> {l}
              </div>
            ))}
          </div>
        )}
        {model.notes.map((n, i) => (
          <div key={i} className={s.network} data-testid="trace-note">
            <Icon name="clock-nine" size="sm" /> {n}
          </div>
        ))}
        <div className={s.sub} data-testid="trace-summary">
          {model.spans.length} spans · {formatMs(model.durationMs)} end to end · trace {model.traceID}
          {model.summary ? ` · ${model.summary}` : ''}
        </div>
        {model.truncated && (
          <div className={s.warning} data-testid="trace-notice">
            The trace was truncated: more spans matched than the assembly keeps.
          </div>
        )}
        {model.notices.map((n, i) => (
          <div key={i} className={n.severity === 'warning' ? s.warning : s.notice} data-testid="trace-notice">
            {n.text}
          </div>
        ))}
        {showHopStrip && <HopStrip hops={model.hops} focus={focusHop} onFocus={setFocusHop} colour={colour} />}
      </div>
      <div className={s.main} style={{ flexDirection: selectedSpan && !side ? 'column' : 'row' }}>
        <div className={s.waterfall} style={{ width: side ? waterfallWidth : undefined }}>
          <div className={s.axis} style={{ paddingLeft: labelWidth }}>
            {[0, 0.25, 0.5, 0.75, 1].map((f) => (
              <span
                key={f}
                className={s.tick}
                style={{ left: `calc(${labelWidth}px + (100% - ${labelWidth + 8}px) * ${f})` }}
              >
                {formatMs(total * f)}
              </span>
            ))}
          </div>
          <div
            ref={setBody}
            className={s.body}
            data-testid="trace-rows"
            data-rows={items.length}
            onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
          >
            <div style={{ height: items.length * ROW_HEIGHT, position: 'relative' }}>
              {items.slice(first, last).map((it, k) => {
                const top = (first + k) * ROW_HEIGHT;
                if (it.type === 'hop') {
                  const key = `hop:${it.group.hop.hop}`;
                  return (
                    <HopHeader
                      key={key}
                      top={top}
                      group={it.group}
                      colour={colour(it.group.hop.kind)}
                      collapsed={collapsed.has(key)}
                      onToggle={() => toggle(key)}
                    />
                  );
                }
                const span = it.row.span;
                return (
                  <SpanRow
                    key={`${span.row}`}
                    top={top}
                    row={it.row}
                    model={model}
                    total={total}
                    labelWidth={labelWidth}
                    compact={waterfallWidth - labelWidth < 600}
                    colour={colour(span.hopKind)}
                    selected={span.spanID === selected}
                    dimmed={!!focusHop && span.hop !== focusHop}
                    collapsed={collapsed.has(span.spanID)}
                    onToggle={() => toggle(span.spanID)}
                    onSelect={() => setSelected(span.spanID === selected ? undefined : span.spanID)}
                  />
                );
              })}
            </div>
          </div>
        </div>
        {selectedSpan && (
          <div className={side ? s.sidePane : s.bottomPane} data-testid="span-details-pane">
            <SpanDetails
              span={selectedSpan}
              model={model}
              datasource={datasource}
              colour={colour(selectedSpan.hopKind)}
              onClose={() => setSelected(undefined)}
            />
          </div>
        )}
      </div>
    </div>
  );
}

function HopStrip({
  hops,
  focus,
  onFocus,
  colour,
}: {
  hops: HopShare[];
  focus?: string;
  onFocus: (hop: string | undefined) => void;
  colour: (kind: string) => string;
}) {
  const s = useStyles2(getStyles);
  const theme = useTheme2();
  const onPath = hops.filter((h) => h.share > 0);
  const kinds = HOP_KINDS.filter((k) => hops.some((h) => h.kind === k));
  return (
    <div>
      <div
        className={s.strip}
        data-testid="trace-hop-strip"
        role="list"
        aria-label="Each hop's share of the critical path"
      >
        {onPath.map((h) => (
          <button
            type="button"
            key={h.hop}
            role="listitem"
            className={cx(s.segment, focus && focus !== h.hop && s.dimmed)}
            style={{
              flexGrow: h.share,
              background: colour(h.kind),
              color: theme.colors.getContrastText(colour(h.kind)),
            }}
            title={`${HOP_KIND_LABEL[h.kind] ?? h.kind}: ${h.label}: ${formatMs(h.criticalMs)} on the critical path (${formatShare(h.share)})`}
            data-testid="trace-hop-segment"
            data-hop={h.hop}
            onClick={() => onFocus(focus === h.hop ? undefined : h.hop)}
          >
            {h.share >= 0.08 ? `${h.label} ${formatShare(h.share)}` : ''}
          </button>
        ))}
      </div>
      <div className={s.legend}>
        {kinds.map((k) => (
          <span key={k} className={s.legendItem}>
            <span className={s.swatch} style={{ background: colour(k) }} />
            {HOP_KIND_LABEL[k]}
          </span>
        ))}
        <span className={s.legendItem}>
          <span className={s.critSample} /> solid part of a bar: the span&apos;s time on the critical path
        </span>
      </div>
    </div>
  );
}

function HopHeader({
  top,
  group,
  colour,
  collapsed,
  onToggle,
}: {
  top: number;
  group: HopGroup;
  colour: string;
  collapsed: boolean;
  onToggle: () => void;
}) {
  const s = useStyles2(getStyles);
  const h = group.hop;
  return (
    <div className={s.hopHeader} style={{ top, height: ROW_HEIGHT }} data-testid="trace-hop-group" data-hop={h.hop}>
      <IconButton
        name={collapsed ? 'angle-right' : 'angle-down'}
        size="sm"
        aria-label={collapsed ? 'Show the spans of this hop' : 'Hide the spans of this hop'}
        onClick={onToggle}
      />
      <span className={s.swatch} style={{ background: colour }} />
      <strong>{HOP_KIND_LABEL[h.kind] ?? h.kind}</strong>&nbsp;{h.label}
      <span className={s.hopStat}>
        {formatMs(h.criticalMs)} on the critical path ({formatShare(h.share)}) · {group.spans.length} span
        {group.spans.length === 1 ? '' : 's'}
      </span>
    </div>
  );
}

function SpanRow({
  top,
  row,
  model,
  total,
  labelWidth,
  compact,
  colour,
  selected,
  dimmed,
  collapsed,
  onToggle,
  onSelect,
}: {
  top: number;
  row: TreeRow;
  model: TraceModel;
  total: number;
  labelWidth: number;
  /** a narrow track: shorter bar labels */
  compact: boolean;
  colour: string;
  selected: boolean;
  dimmed: boolean;
  collapsed: boolean;
  onToggle: () => void;
  onSelect: () => void;
}) {
  const s = useStyles2(getStyles);
  const span: TraceSpan = row.span;
  const left = ((span.startMs - model.startMs) / total) * 100;
  const w = (span.durationMs / total) * 100;
  const critFraction = span.durationMs > 0 ? Math.min(1, span.criticalMs / span.durationMs) : 0;
  const critShare = model.durationMs > 0 ? span.criticalMs / model.durationMs : 0;
  const label = `${formatMs(span.durationMs)}${span.criticalMs > 0 ? ` · ${formatShare(critShare)}${compact ? ' critical' : ' of the critical path'}` : ''}`;
  const error = span.statusCode === 2;
  const place = labelPlace(left, w);
  return (
    <div
      className={cx(s.row, selected && s.selected, dimmed && s.dimmed)}
      style={{ top, height: ROW_HEIGHT }}
      data-testid="trace-row"
      data-span-id={span.spanID}
      data-parent-id={span.parentSpanID}
      data-depth={row.depth}
      data-hop={span.hop}
      data-critical-share={critShare.toFixed(4)}
      data-dimmed={dimmed}
      role="button"
      tabIndex={0}
      aria-pressed={selected}
      onClick={onSelect}
      onKeyDown={(e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          onSelect();
        }
      }}
    >
      <div
        className={s.label}
        style={{ width: labelWidth, paddingLeft: Math.min(row.depth, MAX_INDENT_LEVELS) * INDENT }}
      >
        {row.children > 0 ? (
          <IconButton
            name={collapsed ? 'angle-right' : 'angle-down'}
            size="sm"
            aria-label={collapsed ? `Show the ${row.descendants} spans below` : 'Hide the spans below'}
            onClick={(e) => {
              e.stopPropagation();
              onToggle();
            }}
          />
        ) : (
          <span className={s.noToggle} />
        )}
        <span className={s.swatch} style={{ background: colour }} />
        <span className={cx(s.op, error && s.errorText)} title={span.operationName}>
          {span.operationName}
        </span>
        <span className={s.where}>
          {span.serviceName} · {OBSERVATION_LABEL[span.observationPoint] ?? span.observationPoint}
        </span>
        {collapsed && <span className={s.folded}>+{row.descendants}</span>}
      </div>
      <div className={s.track}>
        <div
          className={s.bar}
          style={{ left: `${left}%`, width: `max(2px, ${w}%)`, background: `${colour}55`, borderColor: colour }}
          data-testid="trace-bar"
        >
          <div className={s.crit} style={{ width: `${critFraction * 100}%`, background: colour }} />
        </div>
        {span.events
          .filter((e) => NET_MARKS.has(e.kind))
          .map((e, i) => (
            <span
              key={i}
              className={s.netMark}
              style={{ left: `${Math.min(100, Math.max(0, ((e.timeMs - model.startMs) / total) * 100))}%` }}
              title={e.message}
              data-testid="trace-net-mark"
              data-kind={e.kind}
            />
          ))}
        <span className={cx(s.barLabel, place.inside && s.barLabelInside)} style={place.style}>
          {label}
        </span>
      </div>
    </div>
  );
}

/** L4 events marked on a span's bar at their time (a client's wait lies before the trace: a note says it). */
const NET_MARKS = new Set(['retransmission', 'connect_failed', 'reset']);

/** Where a bar's label goes: right of the bar, else left of it, else over it (a bar spanning the whole track). */
function labelPlace(left: number, width: number): { style: React.CSSProperties; inside: boolean } {
  const room = 30; // % of the track a label needs
  if (100 - left - width >= room) {
    return { style: { left: `calc(${left + width}% + 4px)` }, inside: false };
  }
  if (left >= room) {
    return { style: { right: `calc(${100 - left}% + 4px)` }, inside: false };
  }
  return { style: { left: `calc(${left}% + 6px)` }, inside: true };
}

const getStyles = (theme: GrafanaTheme2) => ({
  container: css({
    position: 'relative',
    display: 'flex',
    flexDirection: 'column',
    overflow: 'hidden',
    fontSize: theme.typography.bodySmall.fontSize,
  }),
  message: css({
    display: 'flex',
    flexDirection: 'column',
    alignItems: 'center',
    justifyContent: 'center',
    textAlign: 'center',
    color: theme.colors.text.secondary,
    padding: theme.spacing(2),
    gap: theme.spacing(1),
  }),
  header: css({
    flex: '0 0 auto',
    padding: theme.spacing(0.5, 1, 1, 1),
    display: 'flex',
    flexDirection: 'column',
    gap: theme.spacing(0.5),
  }),
  titleRow: css({ display: 'flex', alignItems: 'flex-start', gap: theme.spacing(1) }),
  verdict: css({
    flex: '1 1 auto',
    fontSize: theme.typography.h5.fontSize,
    fontWeight: theme.typography.fontWeightMedium,
    color: theme.colors.text.primary,
  }),
  sub: css({ color: theme.colors.text.secondary }),
  network: css({
    color: theme.colors.text.primary,
    borderLeft: `3px solid ${theme.colors.warning.main}`,
    paddingLeft: theme.spacing(1),
  }),
  netMark: css({
    position: 'absolute',
    top: 3,
    bottom: 3,
    width: 2,
    marginLeft: -1,
    background: theme.colors.error.main,
    pointerEvents: 'none',
  }),
  notice: css({ color: theme.colors.text.secondary }),
  warning: css({ color: theme.colors.warning.text }),
  strip: css({
    display: 'flex',
    height: 22,
    borderRadius: theme.shape.radius.default,
    overflow: 'hidden',
    gap: 1,
    background: theme.colors.background.secondary,
  }),
  segment: css({
    minWidth: 3,
    flexBasis: 0,
    border: 'none',
    padding: theme.spacing(0, 0.5),
    fontSize: theme.typography.bodySmall.fontSize,
    whiteSpace: 'nowrap',
    overflow: 'hidden',
    textOverflow: 'ellipsis',
    cursor: 'pointer',
  }),
  legend: css({
    display: 'flex',
    flexWrap: 'wrap',
    gap: theme.spacing(1.5),
    color: theme.colors.text.secondary,
    marginTop: 2,
  }),
  legendItem: css({ display: 'inline-flex', alignItems: 'center', gap: theme.spacing(0.5) }),
  swatch: css({ display: 'inline-block', width: 10, height: 10, borderRadius: 2, flex: '0 0 auto' }),
  critSample: css({
    display: 'inline-block',
    width: 22,
    height: 10,
    borderRadius: 2,
    background: `linear-gradient(90deg, ${theme.colors.text.secondary} 50%, ${theme.colors.text.disabled} 50%)`,
  }),
  main: css({ flex: '1 1 auto', display: 'flex', minHeight: 0, borderTop: `1px solid ${theme.colors.border.weak}` }),
  waterfall: css({ flex: '1 1 auto', display: 'flex', flexDirection: 'column', minWidth: 0, minHeight: 0 }),
  axis: css({
    position: 'relative',
    height: 18,
    flex: '0 0 auto',
    color: theme.colors.text.secondary,
    borderBottom: `1px solid ${theme.colors.border.weak}`,
  }),
  tick: css({
    position: 'absolute',
    top: 1,
    transform: 'translateX(-50%)',
    whiteSpace: 'nowrap',
    '&:first-child': { transform: 'none' },
    '&:last-child': { transform: 'translateX(-100%)' },
  }),
  body: css({ flex: '1 1 auto', overflowY: 'auto', overflowX: 'hidden', minHeight: 0 }),
  row: css({
    position: 'absolute',
    left: 0,
    right: 0,
    display: 'flex',
    alignItems: 'center',
    cursor: 'pointer',
    borderBottom: `1px solid ${theme.colors.border.weak}`,
    '&:hover': { background: theme.colors.action.hover },
    '&:focus-visible': { outline: `2px solid ${theme.colors.primary.main}`, outlineOffset: -2 },
  }),
  selected: css({ background: theme.colors.action.selected }),
  dimmed: css({ opacity: 0.35 }),
  label: css({
    flex: '0 0 auto',
    display: 'flex',
    alignItems: 'center',
    gap: theme.spacing(0.5),
    overflow: 'hidden',
    whiteSpace: 'nowrap',
    paddingRight: theme.spacing(1),
  }),
  noToggle: css({ display: 'inline-block', width: 16, flex: '0 0 auto' }),
  op: css({ color: theme.colors.text.primary, overflow: 'hidden', textOverflow: 'ellipsis', flex: '0 1 auto' }),
  errorText: css({ color: theme.colors.error.text }),
  where: css({ color: theme.colors.text.secondary, overflow: 'hidden', textOverflow: 'ellipsis', flex: '1 1 auto' }),
  folded: css({ color: theme.colors.text.secondary, flex: '0 0 auto' }),
  track: css({ position: 'relative', flex: '1 1 auto', height: '100%', marginRight: 8, overflow: 'hidden' }),
  bar: css({
    position: 'absolute',
    top: 5,
    bottom: 5,
    borderRadius: 2,
    borderLeft: '1px solid',
    overflow: 'hidden',
  }),
  crit: css({ height: '100%' }),
  barLabel: css({
    position: 'absolute',
    top: 4,
    whiteSpace: 'nowrap',
    color: theme.colors.text.secondary,
    lineHeight: '16px',
  }),
  barLabelInside: css({
    color: theme.colors.text.primary,
    textShadow: `0 0 3px ${theme.colors.background.primary}, 0 0 2px ${theme.colors.background.primary}`,
  }),
  hopHeader: css({
    position: 'absolute',
    left: 0,
    right: 0,
    display: 'flex',
    alignItems: 'center',
    gap: theme.spacing(0.5),
    background: theme.colors.background.secondary,
    borderBottom: `1px solid ${theme.colors.border.weak}`,
    whiteSpace: 'nowrap',
    overflow: 'hidden',
  }),
  hopStat: css({ color: theme.colors.text.secondary, marginLeft: theme.spacing(1) }),
  sidePane: css({
    flex: '0 0 42%',
    borderLeft: `1px solid ${theme.colors.border.weak}`,
    overflow: 'auto',
    minWidth: 0,
  }),
  bottomPane: css({
    flex: '0 0 50%',
    borderTop: `1px solid ${theme.colors.border.medium}`,
    overflow: 'auto',
    minHeight: 0,
  }),
});
