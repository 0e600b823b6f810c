import React, { useEffect, useMemo, useRef, useState } from 'react';
import { css } from '@emotion/css';
import type { GrafanaTheme2, PanelProps } from '@grafana/data';
import { IconButton, useStyles2, useTheme2 } from '@grafana/ui';
import { buildGraph, type MapEdge, type MapNode } from './graph';
import { fitScale, layoutGraph, NODE_RADIUS, splitSegments, type MapLayout, type Point } from './layout';
import {
  edgeLabel,
  edgeShapes,
  labelWidth,
  marked,
  networkText,
  percent,
  plateWidth,
  SPLIT_BAR,
  SPLIT_ROW,
} from './shapes';
import { LinksMenu, type MenuAt } from './LinksMenu';
import type { UniversalMapOptions } from './types';

type Props = PanelProps<UniversalMapOptions>;

const PART_NAME = { client: 'client', network: 'path', server: 'server' } as const;

/** "server 99%": the part of the split that holds the most of the call's time. */
export function dominantPart(split: { client?: number; network?: number; server?: number }): string {
  const parts = (['client', 'network', 'server'] as const).filter((p) => split[p] !== undefined);
  const total = parts.reduce((a, p) => a + (split[p] ?? 0), 0);
  if (total <= 0) {
    return '';
  }
  const top = parts.reduce((a, b) => ((split[b] ?? 0) > (split[a] ?? 0) ? b : a));
  return `${PART_NAME[top]} ${Math.round(((split[top] ?? 0) / total) * 100)}%`;
}

type Severity = 'ok' | 'warn' | 'error' | 'unknown';

interface Hover {
  kind: 'node' | 'edge';
  id: string;
  x: number;
  y: number;
}

export function severity(errorRate: number | undefined, thresholdPercent: number): Severity {
  if (errorRate === undefined) {
    return 'unknown';
  }
  if (errorRate * 100 >= thresholdPercent) {
    return 'error';
  }
  return errorRate > 0 ? 'warn' : 'ok';
}

/** The view: layout coordinates scaled by k, then shifted by (x, y) screen pixels. */
interface View {
  k: number;
  x: number;
  y: number;
}

/** The whole map centred in the panel (never enlarged past LAYOUT.maxFit). */
function fitView(layout: MapLayout, width: number, height: number): View {
  const k = fitScale(layout.width, layout.height, { width, height });
  return { k, x: (width - layout.width * k) / 2, y: (height - layout.height * k) / 2 };
}

/** Zoom limits relative to the fitted view, and the on-screen size (px) below which text is left out. */
const MIN_ZOOM = 0.5;
const MAX_ZOOM = 12;
const MIN_TEXT_PX = 8;
const EDGE_FONT_PX = 12;
const TITLE_FONT_PX = 14;
const STAT_FONT_PX = 10;
const TITLE_MIN_PX = 10;

/** Ring segment for the error share of a node, starting at 12 o'clock. */
function arcPath(c: Point, r: number, fraction: number): string {
  const f = Math.min(Math.max(fraction, 0), 0.9999);
  const angle = f * 2 * Math.PI;
  const x = c.x + r * Math.sin(angle);
  const y = c.y - r * Math.cos(angle);
  return `M ${c.x} ${c.y - r} A ${r} ${r} 0 ${f > 0.5 ? 1 : 0} 1 ${x} ${y}`;
}

export function UniversalMapPanel({ data, width, height, options }: Props) {
  const theme = useTheme2();
  const s = useStyles2(getStyles);
  const containerRef = useRef<HTMLDivElement>(null);
  const [hover, setHover] = useState<Hover | undefined>();
  const [menu, setMenu] = useState<MenuAt | undefined>();

  const graph = useMemo(() => buildGraph(data.series, theme), [data.series, theme]);
  // the layout takes the panel's size (a large map wraps its tall columns to fill it); resizing by a few pixels
  // keeps its order
  const roomW = Math.max(50, Math.round(width / 50) * 50);
  const roomH = Math.max(50, Math.round(height / 50) * 50);
  const threshold = options.errorThreshold ?? 5;
  const edgeStat = options.edgeStat ?? 'both';
  // the gaps between columns take the widest label crossing them
  const layout = useMemo(
    () => layoutGraph(graph, { width: roomW, height: roomH }, (e) => plateWidth(e, edgeLabel(e, edgeStat))),
    [graph, roomW, roomH, edgeStat]
  );
  const shapes = useMemo(() => edgeShapes(graph, layout, edgeStat), [graph, layout, edgeStat]);
  // zoom and pan: undefined is the fitted view (kept fitted when the panel resizes)
  const [zoomed, setZoomed] = useState<View | undefined>();
  const drag = useRef<{ x: number; y: number; view: View; moved: boolean } | undefined>(undefined);
  const panned = useRef(false); // the last mouse press panned the map: its click opens nothing
  const fitted = fitView(layout, width, height);
  const view = zoomed ?? fitted;
  const zoomAt = (factor: number, px: number, py: number) => {
    const k = Math.min(Math.max(view.k * factor, fitted.k * MIN_ZOOM), fitted.k * MAX_ZOOM);
    setZoomed({ k, x: px - ((px - view.x) * k) / view.k, y: py - ((py - view.y) * k) / view.k });
  };
  // the wheel zooms the map, not the dashboard: a listener that may prevent the page's scroll (React's is passive)
  const svgRef = useRef<SVGSVGElement>(null);
  const zoomAtRef = useRef(zoomAt);
  useEffect(() => {
    zoomAtRef.current = zoomAt;
  });
  useEffect(() => {
    const svg = svgRef.current;
    if (!svg) {
      return;
    }
    const onWheel = (ev: WheelEvent) => {
      ev.preventDefault();
      const box = svg.getBoundingClientRect();
      zoomAtRef.current(Math.exp(-ev.deltaY * 0.0015), ev.clientX - box.left, ev.clientY - box.top);
    };
    svg.addEventListener('wheel', onWheel, { passive: false });
    return () => svg.removeEventListener('wheel', onWheel);
  }, [graph.nodes.length]);
  // text too small to read at this zoom is left out (the tooltip has it; zooming in brings it back)
  const showEdgeLabels = view.k * EDGE_FONT_PX >= MIN_TEXT_PX;
  // node titles stay at least TITLE_MIN_PX on screen (drawn larger than the map's scale when zoomed out), cut to the
  // room between two columns: a 200-service map fitted in a panel still names every node
  const titlePx = Math.max(TITLE_FONT_PX * view.k, TITLE_MIN_PX);
  const titleChars = Math.floor((layout.columnPitch * view.k - 6) / (0.6 * titlePx));
  const showTitles = titleChars >= 6; // fewer characters would not tell neighbours apart (c…-1, c…-2)
  const showSubtitles = view.k * EDGE_FONT_PX >= MIN_TEXT_PX;
  // a cut name keeps its start and its end (checkout-svc-12 and checkout-svc-39 stay apart)
  const shortTitle = (t: string) => {
    if (t.length <= titleChars) {
      return t;
    }
    const tail = Math.floor((titleChars - 1) / 2);
    return `${t.slice(0, titleChars - 1 - tail)}…${t.slice(t.length - tail)}`;
  };
  const showStats = view.k * STAT_FONT_PX >= MIN_TEXT_PX;

  const colour: Record<Severity, string> = {
    ok: theme.colors.success.main,
    warn: theme.colors.warning.main,
    error: theme.colors.error.main,
    unknown: theme.colors.text.secondary,
  };

  if (graph.nodes.length === 0) {
    return (
      <div className={s.empty} style={{ width, height }} data-testid="universal-map-empty">
        No service map data. Use a FlowLens query of type <code>map</code>, which returns the <code>nodes</code> and{' '}
        <code>edges</code> frames.
      </div>
    );
  }

  const track = (kind: Hover['kind'], id: string) => (ev: React.MouseEvent) => {
    const box = containerRef.current?.getBoundingClientRect();
    setHover({ kind, id, x: ev.clientX - (box?.left ?? 0), y: ev.clientY - (box?.top ?? 0) });
  };

  // a click opens the item's links (its RED, requests, traces, flows, triage) where it was clicked; not the end of a pan
  const openMenu = (title: string, links: MapNode['links']) => (ev: React.MouseEvent) => {
    if (panned.current) {
      return;
    }
    setHover(undefined);
    setMenu({ title, x: ev.clientX, y: ev.clientY, links: links ? links() : [] });
  };

  const hoveredNode: MapNode | undefined =
    hover?.kind === 'node' ? graph.nodes.find((n) => n.id === hover.id) : undefined;
  const hoveredEdge: MapEdge | undefined =
    hover?.kind === 'edge' ? graph.edges.find((e) => e.id === hover.id) : undefined;

  return (
    <div ref={containerRef} className={s.container} style={{ width, height }} onMouseLeave={() => setHover(undefined)}>
      <svg
        data-testid="universal-map"
        data-zoom={(view.k / fitted.k).toFixed(3)}
        width={width}
        height={height}
        role="img"
        aria-label={`Universal Map: ${graph.nodes.length} services, ${graph.edges.length} calls`}
        ref={svgRef}
        className={s.canvas}
        onMouseDown={(ev) => {
          drag.current = { x: ev.clientX, y: ev.clientY, view, moved: false };
        }}
        onMouseMove={(ev) => {
          const d = drag.current;
          if (d && (ev.buttons & 1) === 1) {
            const dx = ev.clientX - d.x;
            const dy = ev.clientY - d.y;
            if (d.moved || Math.hypot(dx, dy) > 3) {
              d.moved = true;
              setZoomed({ ...d.view, x: d.view.x + dx, y: d.view.y + dy });
            }
          }
        }}
        onMouseUp={() => {
          panned.current = drag.current?.moved ?? false;
          drag.current = undefined;
        }}
      >
        <defs>
          {(Object.keys(colour) as Severity[]).map((sev) => (
            <marker
              key={sev}
              id={`flowlens-arrow-${sev}`}
              viewBox="0 0 10 10"
              refX="8"
              refY="5"
              markerWidth="7"
              markerHeight="7"
              orient="auto-start-reverse"
            >
              <path d="M 0 0 L 10 5 L 0 10 z" fill={colour[sev]} />
            </marker>
          ))}
        </defs>
        <g data-testid="universal-map-view" transform={`translate(${view.x} ${view.y}) scale(${view.k})`}>
          {/* every call's line first, then each call's labels above all lines (a later line never hides a label) */}
          <g>
            {shapes.map(({ edge: e, geometry }) => {
              const sev = severity(e.errorRate, threshold);
              const active = hover?.kind === 'edge' && hover.id === e.id;
              return (
                <path
                  key={e.id}
                  data-testid="map-edge-line"
                  d={geometry.d}
                  fill="none"
                  stroke={colour[sev]}
                  strokeWidth={active ? 3 : 1.8}
                  vectorEffect="non-scaling-stroke"
                  markerEnd={`url(#flowlens-arrow-${sev})`}
                />
              );
            })}
          </g>
          <g>
            {shapes.map(({ edge: e, geometry, label, mid }) => {
              const { d } = geometry;
              // the label and, under it, the network mark share the placed box (centred on mid)
              // the time bar (where the call's time goes) under both: the box is centred on mid
              const up = e.split ? SPLIT_ROW / 2 : 0;
              const labelY = (mid && marked(e) ? mid.y - 9 : (mid?.y ?? 0)) - up;
              const markY = (mid && label ? mid.y + 9 : (mid?.y ?? 0)) - up;
              const sev = severity(e.errorRate, threshold);
              return (
                <g
                  key={e.id}
                  data-testid="map-edge"
                  data-source={e.source}
                  data-target={e.target}
                  data-severity={sev}
                  data-network={e.unhealthy ? 'unhealthy' : e.network ? 'ok' : undefined}
                  className={s.edge}
                  onMouseMove={track('edge', e.id)}
                  onClick={openMenu(`${e.source} → ${e.target}`, e.links)}
                >
                  <path d={d} fill="none" stroke="transparent" strokeWidth={14} vectorEffect="non-scaling-stroke" />
                  {e.unhealthy && (
                    // the network under this call is unhealthy: a wide dashed band in the error colour
                    <path
                      data-testid="map-edge-network"
                      d={d}
                      fill="none"
                      stroke={colour.error}
                      strokeOpacity={0.55}
                      strokeWidth={6}
                      strokeDasharray="6 4"
                      vectorEffect="non-scaling-stroke"
                    />
                  )}
                  {label && mid && showEdgeLabels && (
                    <>
                      {/* a plate under the label keeps it readable where it crosses lines */}
                      <rect
                        data-testid="map-edge-plate"
                        x={mid.x - labelWidth(label) / 2}
                        y={labelY - 9}
                        width={labelWidth(label)}
                        height={18}
                        rx={3}
                        fill={theme.colors.background.primary}
                        fillOpacity={0.9}
                      />
                      <text
                        data-testid="map-edge-label"
                        x={mid.x}
                        y={labelY}
                        dominantBaseline="central"
                        textAnchor="middle"
                        className={s.edgeLabel}
                        fill={colour[sev]}
                      >
                        {label}
                      </text>
                    </>
                  )}
                  {marked(e) && mid && showEdgeLabels && (
                    <rect
                      data-testid="map-edge-plate"
                      x={mid.x - labelWidth(networkText(e.network!)) / 2}
                      y={markY - 9}
                      width={labelWidth(networkText(e.network!))}
                      height={18}
                      rx={3}
                      fill={theme.colors.background.primary}
                      fillOpacity={0.9}
                    />
                  )}
                  {marked(e) && mid && showEdgeLabels && (
                    <text
                      data-testid="map-edge-network-label"
                      x={mid.x}
                      y={markY}
                      dominantBaseline="central"
                      textAnchor="middle"
                      className={s.edgeLabel}
                      fill={colour.error}
                    >
                      {networkText(e.network!)}
                    </text>
                  )}
                  {e.split && mid && showEdgeLabels && (
                    <SplitBar
                      split={e.split}
                      x={mid.x - (SPLIT_BAR.width + 64) / 2}
                      y={(marked(e) ? markY : labelY) + 11}
                      theme={theme}
                      className={s.splitLabel}
                    />
                  )}
                </g>
              );
            })}
          </g>
          <g>
            {graph.nodes.map((n) => {
              const p = layout.positions.get(n.id)!;
              const sev = severity(n.errorRate, threshold);
              const active = hover?.kind === 'node' && hover.id === n.id;
              return (
                <g
                  key={n.id}
                  data-testid="map-node"
                  data-id={n.id}
                  onMouseMove={track('node', n.id)}
                  onClick={openMenu(n.title, n.links)}
                  style={{ cursor: 'pointer' }}
                >
                  <circle
                    cx={p.x}
                    cy={p.y}
                    r={NODE_RADIUS}
                    fill={theme.colors.background.secondary}
                    stroke={n.errorRate === undefined ? theme.colors.primary.main : colour.ok}
                    strokeWidth={active ? 5 : 3.5}
                  />
                  {n.errorRate !== undefined && n.errorRate > 0 && (
                    <path
                      d={arcPath(p, NODE_RADIUS, n.errorRate)}
                      fill="none"
                      stroke={colour.error}
                      strokeWidth={active ? 5 : 3.5}
                    />
                  )}
                  {/* a stat that is empty ("calls only" has no latency) is not drawn: an empty text has no box */}
                  {showStats && n.mainstat && (
                    <text x={p.x} y={p.y - 2} textAnchor="middle" className={s.nodeStat}>
                      {n.mainstat}
                    </text>
                  )}
                  {showStats && n.secondarystat && (
                    <text x={p.x} y={p.y + 11} textAnchor="middle" className={s.nodeStatSecondary}>
                      {n.secondarystat}
                    </text>
                  )}
                  {showTitles && (
                    <text
                      data-testid="map-node-title"
                      x={p.x}
                      y={p.y + NODE_RADIUS + (titlePx / view.k) * 1.2}
                      textAnchor="middle"
                      className={s.nodeTitle}
                      style={{ fontSize: titlePx / view.k }}
                      data-severity={sev}
                      stroke={theme.colors.background.primary}
                      strokeWidth={4}
                      strokeLinejoin="round"
                      paintOrder="stroke"
                    >
                      {shortTitle(n.title)}
                    </text>
                  )}
                  {showSubtitles && n.subtitle && (
                    <text x={p.x} y={p.y + NODE_RADIUS + 31} textAnchor="middle" className={s.nodeSubtitle}>
                      {n.subtitle}
                    </text>
                  )}
                </g>
              );
            })}
          </g>
        </g>
      </svg>
      <div className={s.controls}>
        <IconButton
          name="search-plus"
          tooltip="Zoom in (or scroll)"
          onClick={() => zoomAt(1.5, width / 2, height / 2)}
        />
        <IconButton name="search-minus" tooltip="Zoom out" onClick={() => zoomAt(1 / 1.5, width / 2, height / 2)} />
        <IconButton
          name="capture"
          tooltip="Fit the whole map"
          data-testid="universal-map-fit"
          onClick={() => setZoomed(undefined)}
        />
      </div>
      {!showEdgeLabels && (
        <div className={s.hint} data-testid="universal-map-hint">
          {graph.nodes.length} services, {graph.edges.length} calls: scroll to zoom in for{' '}
          {showTitles ? 'call rates' : 'names and rates'}, drag to move
        </div>
      )}
      {menu && <LinksMenu menu={menu} onClose={() => setMenu(undefined)} />}
      {!menu && hover && (hoveredNode || hoveredEdge) && (
        <div
          className={s.tooltip}
          data-testid="universal-map-tooltip"
          style={{ left: Math.min(hover.x + 12, Math.max(0, width - 260)), top: hover.y + 12 }}
        >
          {hoveredNode && <Details title={hoveredNode.title} rows={nodeRows(hoveredNode)} />}
          {hoveredEdge && (
            <Details title={`${hoveredEdge.source} → ${hoveredEdge.target}`} rows={edgeRows(hoveredEdge)} />
          )}
        </div>
      )}
    </div>
  );
}

function nodeRows(n: MapNode): Array<[string, string]> {
  const rows: Array<[string, string]> = [
    ['subtitle', n.subtitle],
    ['requests', n.mainstat],
    ['latency', n.secondarystat],
    ['errors', percent(n.errorRate)],
  ];
  return [...rows, ...n.details].filter(([, v]) => v !== '');
}

function edgeRows(e: MapEdge): Array<[string, string]> {
  const rows: Array<[string, string]> = [
    ['requests', e.mainstat],
    ['latency', e.secondarystat],
    ['errors', percent(e.errorRate)],
  ];
  // error rate is already the "errors" row
  const extra = e.details.filter(([k]) => !/^error[ _]?ratio$/i.test(k));
  return [...rows, ...extra].filter(([, v]) => v !== '');
}

/** Where an edge's time goes: a bar cut into the client's, the path's and the server's share, the largest named. */
function SplitBar({
  split,
  x,
  y,
  theme,
  className,
}: {
  split: NonNullable<MapEdge['split']>;
  x: number;
  y: number;
  theme: GrafanaTheme2;
  className: string;
}) {
  const colour = {
    client: theme.visualization.getColorByName('blue'),
    network: theme.visualization.getColorByName('orange'),
    server: theme.visualization.getColorByName('purple'),
  };
  const segments = splitSegments(split, SPLIT_BAR.width);
  if (segments.length === 0) {
    return null;
  }
  return (
    <g data-testid="map-edge-split">
      <rect
        data-testid="map-edge-plate"
        x={x - 2}
        y={y - 2}
        width={SPLIT_BAR.width + 64}
        height={SPLIT_BAR.height + 4}
        rx={2}
        fill={theme.colors.background.primary}
        fillOpacity={0.9}
      />
      {segments.map((g) => (
        <rect
          key={g.part}
          data-testid="map-edge-split-part"
          data-part={g.part}
          x={x + g.x}
          y={y}
          width={g.width}
          height={SPLIT_BAR.height}
          fill={colour[g.part]}
        >
          <title>{`${PART_NAME[g.part]} ${g.ms.toFixed(g.ms < 10 ? 2 : 1)} ms`}</title>
        </rect>
      ))}
      <text
        x={x + SPLIT_BAR.width + 4}
        y={y + SPLIT_BAR.height / 2}
        dominantBaseline="central"
        className={className}
        fill={theme.colors.text.secondary}
        data-testid="map-edge-split-label"
      >
        {dominantPart(split)}
      </text>
    </g>
  );
}

function Details({ title, rows }: { title: string; rows: Array<[string, string]> }) {
  return (
    <>
      <strong>{title}</strong>
      <table>
        <tbody>
          {rows.map(([k, v]) => (
            <tr key={k}>
              <td>{k}</td>
              <td>{v}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  container: css({ position: 'relative', overflow: 'hidden' }),
  canvas: css({ cursor: 'grab', touchAction: 'none', userSelect: 'none', '&:active': { cursor: 'grabbing' } }),
  controls: css({
    position: 'absolute',
    top: theme.spacing(0.5),
    right: theme.spacing(0.5),
    display: 'flex',
    gap: theme.spacing(0.5),
    background: theme.colors.background.primary,
    borderRadius: theme.shape.radius.default,
    padding: theme.spacing(0.25, 0.5),
  }),
  hint: css({
    position: 'absolute',
    left: theme.spacing(1),
    bottom: theme.spacing(0.5),
    fontSize: theme.typography.bodySmall.fontSize,
    color: theme.colors.text.secondary,
    pointerEvents: 'none',
  }),
  empty: css({
    display: 'flex',
    alignItems: 'center',
    justifyContent: 'center',
    textAlign: 'center',
    color: theme.colors.text.secondary,
    padding: theme.spacing(2),
    gap: theme.spacing(0.5),
    flexWrap: 'wrap',
  }),
  edge: css({ cursor: 'pointer' }),
  splitLabel: css({ fontSize: 9 }),
  edgeLabel: css({
    fontSize: theme.typography.bodySmall.fontSize,
  }),
  nodeStat: css({ fontSize: 10, fill: theme.colors.text.primary, fontWeight: theme.typography.fontWeightMedium }),
  nodeStatSecondary: css({ fontSize: 9, fill: theme.colors.text.secondary }),
  nodeTitle: css({
    fontSize: theme.typography.body.fontSize,
    fill: theme.colors.text.primary,
    fontWeight: theme.typography.fontWeightMedium,
  }),
  nodeSubtitle: css({ fontSize: theme.typography.bodySmall.fontSize, fill: theme.colors.text.secondary }),
  tooltip: css({
    position: 'absolute',
    pointerEvents: 'none',
    background: theme.colors.background.elevated,
    border: `1px solid ${theme.colors.border.weak}`,
    boxShadow: theme.shadows.z3,
    borderRadius: theme.shape.radius.default,
    padding: theme.spacing(1),
    fontSize: theme.typography.bodySmall.fontSize,
    maxWidth: 260,
    zIndex: 1,
    'td:first-child': { color: theme.colors.text.secondary, paddingRight: theme.spacing(1) },
  }),
});
