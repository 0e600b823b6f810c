import React, { useEffect, useMemo, useRef, useState } from 'react';
import { css } from '@emotion/css';
import { LoadingState, type DataFrame, type DataQueryError, type GrafanaTheme2, type PanelProps } from '@grafana/data';
import { Alert, Button, useStyles2, useTheme2 } from '@grafana/ui';
import { formatMs } from '../trace/model';
import {
  layout,
  selectedWindow,
  zoomedWindow,
  type PlacedInterval,
  type PlacedPacket,
  type ProfileLayout,
  type TimeWindow,
} from './layout';
import {
  LATENCY_LABEL,
  PACKET_LABEL,
  netProfileModel,
  pointLabel,
  type LatencyKind,
  type LatencyStat,
  type NetProfileModel,
  type PacketKind,
} from './model';
import { DEFAULT_OPTIONS, type NetProfileOptions } from './types';

type Props = PanelProps<NetProfileOptions>;

/** Grafana's named palette, so both themes keep the kinds apart. */
const PACKET_COLOUR: Record<PacketKind, string> = {
  syn: 'green',
  syn_ack: 'green',
  ack: 'text',
  data: 'blue',
  retransmission: 'orange',
  fin: 'purple',
  rst: 'red',
};

const ZERO_WINDOW_COLOUR = 'red';

const LATENCY_COLOUR: Record<LatencyKind, string> = {
  connection: 'green',
  system_ack: 'purple',
  server_response: 'blue',
  client_wait: 'orange',
};

/** The legend: each packet kind's mark. */
const LEGEND: Array<[PacketKind, string, string]> = [
  ['syn', '◆', 'SYN, SYN/ACK'],
  ['ack', '|', 'ACK'],
  ['data', '▮', 'data (height: payload size)'],
  ['retransmission', '▮', 'retransmission'],
  ['fin', '○', 'FIN'],
  ['rst', '✕', 'RST'],
];

const usText = (us: number) => formatMs(us / 1000);

function statText(s: LatencyStat): string {
  return s.count > 0 ? `${usText(s.meanUs)} avg, ${usText(s.maxUs)} max (${s.count})` : '–';
}

const getStyles = (theme: GrafanaTheme2) => ({
  root: css({ position: 'relative', overflow: 'auto', fontSize: theme.typography.bodySmall.fontSize }),
  chart: css({ position: 'relative' }),
  legend: css({ display: 'flex', flexWrap: 'wrap', gap: theme.spacing(2), padding: theme.spacing(0.5, 1) }),
  legendText: css({ color: theme.colors.text.secondary }),
  zoomBar: css({ display: 'flex', alignItems: 'center', gap: theme.spacing(1), padding: theme.spacing(0.25, 1) }),
  message: css({ padding: theme.spacing(2), overflow: 'auto' }),
  notice: css({ color: theme.colors.text.secondary, padding: theme.spacing(0.25, 1) }),
  tooltip: css({
    position: 'absolute',
    pointerEvents: 'none',
    background: theme.colors.background.secondary,
    border: `1px solid ${theme.colors.border.medium}`,
    borderRadius: theme.shape.radius.default,
    padding: theme.spacing(0.5, 1),
    boxShadow: theme.shadows.z2,
    whiteSpace: 'nowrap',
    zIndex: 1,
    td: { paddingRight: theme.spacing(1) },
    'td:first-child': { color: theme.colors.text.secondary },
  }),
  summary: css({
    borderCollapse: 'collapse',
    margin: theme.spacing(1),
    'th, td': {
      padding: theme.spacing(0.25, 1),
      textAlign: 'left',
      borderBottom: `1px solid ${theme.colors.border.weak}`,
    },
    th: { color: theme.colors.text.secondary, fontWeight: theme.typography.fontWeightMedium },
  }),
  largest: css({ fontWeight: theme.typography.fontWeightBold }),
});

function PacketMark({
  p,
  colour,
  zeroColour,
  onEnter,
  onLeave,
}: {
  p: PlacedPacket;
  colour: string;
  zeroColour: string;
  onEnter: () => void;
  onLeave: () => void;
}) {
  const h = p.h;
  let shape: React.ReactNode;
  switch (p.kind) {
    case 'syn':
    case 'syn_ack':
      shape = (
        <polygon
          points={`${p.x},${p.y - h / 2} ${p.x + h / 2},${p.y} ${p.x},${p.y + h / 2} ${p.x - h / 2},${p.y}`}
          fill={colour}
        />
      );
      break;
    case 'rst':
      shape = (
        <path
          d={`M${p.x - 5},${p.y - 5}L${p.x + 5},${p.y + 5}M${p.x - 5},${p.y + 5}L${p.x + 5},${p.y - 5}`}
          stroke={colour}
          strokeWidth={2.5}
        />
      );
      break;
    case 'fin':
      shape = <circle cx={p.x} cy={p.y} r={h / 2 - 1} fill="none" stroke={colour} strokeWidth={2} />;
      break;
    case 'ack':
      shape = (
        <line x1={p.x} x2={p.x} y1={p.y - h / 2} y2={p.y + h / 2} stroke={colour} strokeWidth={1} opacity={0.7} />
      );
      break;
    default:
      shape = <rect x={p.x - 1.5} y={p.y - h / 2} width={3} height={h} fill={colour} />;
  }
  return (
    <g
      data-testid="np-packet"
      data-index={p.index}
      data-kind={p.kind}
      data-x={p.x.toFixed(1)}
      data-y={p.y}
      data-zero-window={p.zeroWindow ? 'true' : undefined}
      onMouseEnter={onEnter}
      onMouseLeave={onLeave}
    >
      {/* a wider invisible target, so a 1 px ACK is easy to hover */}
      <rect x={p.x - 4} y={p.y - 12} width={8} height={24} fill="transparent" />
      {shape}
      {p.zeroWindow && (
        // a zero window: the sender's receive buffer is full; a red triangle over the packet
        <polygon
          data-testid="np-zero-window"
          points={`${p.x - 4},${p.y - 14} ${p.x + 4},${p.y - 14} ${p.x},${p.y - 8}`}
          fill={zeroColour}
        />
      )}
    </g>
  );
}

function IntervalMark({ iv, colour }: { iv: PlacedInterval; colour: string }) {
  const label = `${LATENCY_LABEL[iv.kind]} ${usText(iv.interval.durationUs)}`;
  const w = iv.x1 - iv.x0;
  // the label sits over its interval when it fits, else to its right
  const fits = w > label.length * 6.2 + 8;
  return (
    <g
      data-testid="np-interval"
      data-kind={iv.kind}
      data-x0={iv.x0.toFixed(1)}
      data-x1={iv.x1.toFixed(1)}
      data-duration-us={iv.interval.durationUs}
      data-largest={iv.largest ? 'true' : undefined}
    >
      <title>{label}</title>
      <line
        x1={iv.x0}
        x2={Math.max(iv.x1, iv.x0 + 1)}
        y1={iv.y}
        y2={iv.y}
        stroke={colour}
        strokeWidth={iv.largest ? 4 : 2}
      />
      <line x1={iv.x0} x2={iv.x0} y1={iv.y - 5} y2={iv.y + 5} stroke={colour} />
      <line x1={iv.x1} x2={iv.x1} y1={iv.y - 5} y2={iv.y + 5} stroke={colour} />
      {(fits || iv.largest) && (
        <text
          x={fits ? (iv.x0 + iv.x1) / 2 : iv.x1 + 4}
          y={iv.y - 4}
          textAnchor={fits ? 'middle' : 'start'}
          fill={colour}
          fontWeight={iv.largest ? 700 : 400}
          fontSize={11}
        >
          {iv.largest ? `largest: ${label}` : label}
        </text>
      )}
    </g>
  );
}

/** The panel: Grafana's answer drawn by NetProfileView. */
export function NetProfilePanel({ data, width, height, options }: Props) {
  const errors =
    data.state === LoadingState.Error && !data.errors?.length ? [{ message: 'the query failed' }] : data.errors;
  return <NetProfileView series={data.series} errors={errors} width={width} height={height} options={options} />;
}

export interface NetProfileViewProps {
  series: DataFrame[];
  errors?: DataQueryError[];
  width: number;
  height: number;
  options?: Partial<NetProfileOptions>;
}

/** The Network Profile of a `netprofile` answer (the panel's view; the Network page draws it too). */
export function NetProfileView({ series, errors: queryErrors, width, height, options }: NetProfileViewProps) {
  const s = useStyles2(getStyles);
  const theme = useTheme2();
  const colour = (name: string) => theme.visualization.getColorByName(name);
  const opts = { ...DEFAULT_OPTIONS, ...options };
  const model = useMemo(() => netProfileModel(series), [series]);
  // the zoomed window (undefined: the whole flow); another answer starts whole again
  const [zoom, setZoom] = useState<{ model: NetProfileModel; view: TimeWindow } | undefined>();
  const view = zoom && zoom.model === model ? zoom.view : undefined;
  const lay = useMemo(
    () => (model ? layout(model, width, opts.showAckLatency, view) : undefined),
    [model, width, opts.showAckLatency, view]
  );
  const [hover, setHover] = useState<number | undefined>();
  const full = model ? { startUs: model.startUs, endUs: model.endUs } : undefined;
  const zoomTo = (w: TimeWindow | undefined) => {
    setHover(undefined);
    setZoom(model && w && full && (w.startUs > full.startUs || w.endUs < full.endUs) ? { model, view: w } : undefined);
  };

  const errors = queryErrors ?? [];
  if (errors.length > 0) {
    return (
      <div className={s.message} style={{ width, height }} data-testid="np-error">
        <Alert severity="error" title="The network profile query failed">
          {errors.map((e, i) => (
            <div key={i}>{e.message || e.data?.message || 'unknown error'}</div>
          ))}
        </Alert>
      </div>
    );
  }
  if (!model || !lay || model.packets.length === 0) {
    return (
      <div className={s.message} style={{ width, height }} data-testid="np-empty">
        <div>
          No packets to show. Use a FlowLens query of type <code>netprofile</code> with a TCP flow&apos;s{' '}
          <code>client_ip</code>, <code>client_port</code>, <code>server_ip</code> and <code>server_port</code> (a flow
          log row or a trace span links to it).
        </div>
        {model?.notices.map((n, i) => (
          <div key={i} className={s.notice} data-testid="np-notice">
            {n}
          </div>
        ))}
      </div>
    );
  }
  return (
    <div className={s.root} style={{ width, height }} data-testid="np-panel">
      {model.notices.map((n, i) => (
        <div key={i} className={s.notice} data-testid="np-notice">
          {n}
        </div>
      ))}
      <div className={s.zoomBar} data-testid="np-zoom">
        <span className={s.legendText}>
          {view
            ? `showing +${usText(view.startUs - model.startUs)} to +${usText(view.endUs - model.startUs)} of ${usText(
                model.endUs - model.startUs
              )}`
            : 'drag across the chart to zoom into a time window, or use the wheel'}
        </span>
        {view && (
          <Button
            size="sm"
            variant="secondary"
            icon="search-minus"
            onClick={() => zoomTo(undefined)}
            data-testid="np-zoom-reset"
          >
            Reset zoom
          </Button>
        )}
      </div>
      <div className={s.chart}>
        <ProfileChart
          model={model}
          lay={lay}
          colour={colour}
          highlight={opts.highlightLargest}
          onHover={setHover}
          onZoom={(w) => zoomTo(w)}
          full={full!}
        />
        {hover !== undefined && <PacketTooltip model={model} lay={lay} index={hover} className={s.tooltip} />}
      </div>
      <div className={s.legend} data-testid="np-legend">
        {LEGEND.map(([kind, glyph, label]) => (
          <span key={kind} style={{ color: colour(PACKET_COLOUR[kind]) }}>
            {glyph} <span className={s.legendText}>{label}</span>
          </span>
        ))}
        <span style={{ color: colour(ZERO_WINDOW_COLOUR) }}>
          ▼ <span className={s.legendText}>zero window (the sender&apos;s receive buffer is full)</span>
        </span>
      </div>
      <table className={s.summary} data-testid="np-summary">
        <thead>
          <tr>
            <th>observation point</th>
            <th>packets</th>
            <th>{LATENCY_LABEL.connection}</th>
            <th>{LATENCY_LABEL.system_ack}</th>
            <th>{LATENCY_LABEL.server_response}</th>
            <th>{LATENCY_LABEL.client_wait}</th>
            <th>retransmissions</th>
            <th>zero windows</th>
          </tr>
        </thead>
        <tbody>
          {model.points.map((p) => (
            <tr key={p.key} data-testid="np-summary-row" data-point={p.key}>
              <td>{pointLabel(p)}</td>
              <td>
                {p.packetsStored < p.packetCount ? `${p.packetsStored} of ${p.packetCount} drawn` : p.packetCount}
              </td>
              <td>{p.connectionUs > 0 ? usText(p.connectionUs) : '–'}</td>
              <td>{statText(p.systemAck)}</td>
              <td>{statText(p.serverResponse)}</td>
              <td
                className={
                  model.largest?.point === p.key && model.largest.kind === 'client_wait' ? s.largest : undefined
                }
              >
                {statText(p.clientWait)}
              </td>
              <td>{p.retransmissions}</td>
              <td>{p.zeroWindows}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** x of a mouse event in the svg's own coordinates. */
function svgX(svg: SVGSVGElement | null, clientX: number): number {
  return clientX - (svg?.getBoundingClientRect().left ?? 0);
}

/** One wheel notch zooms in or out by this factor around the pointer. */
const WHEEL_FACTOR = 0.8;

function ProfileChart({
  model,
  lay,
  colour,
  highlight,
  onHover,
  onZoom,
  full,
}: {
  model: NetProfileModel;
  lay: ProfileLayout;
  colour: (name: string) => string;
  highlight: boolean;
  onHover: (i: number | undefined) => void;
  onZoom: (w: TimeWindow | undefined) => void;
  full: TimeWindow;
}) {
  const theme = useTheme2();
  const text = theme.colors.text.secondary;
  const grid = theme.colors.border.weak;
  const largest = highlight ? lay.intervals.find((iv) => iv.largest) : undefined;
  const largestBox = largest && lay.points.find((b) => b.point.key === largest.interval.point);
  const svgRef = useRef<SVGSVGElement>(null);
  const [drag, setDrag] = useState<{ x0: number; x1: number } | undefined>();
  // the wheel zooms the chart rather than scrolling the panel: a listener that may prevent the default
  useEffect(() => {
    const el = svgRef.current;
    const on = (ev: WheelEvent) => {
      const x = svgX(el, ev.clientX);
      if (ev.deltaY === 0 || x < lay.plotLeft || x > lay.plotRight) {
        return;
      }
      ev.preventDefault();
      onZoom(zoomedWindow(lay, full, x, ev.deltaY < 0 ? WHEEL_FACTOR : 1 / WHEEL_FACTOR));
    };
    el?.addEventListener('wheel', on, { passive: false });
    return () => el?.removeEventListener('wheel', on);
  }, [lay, full, onZoom]);
  return (
    <svg
      ref={svgRef}
      width={lay.width}
      height={lay.height}
      data-testid="np-chart"
      role="img"
      aria-label="network profile"
      style={{ cursor: 'crosshair', userSelect: 'none' }}
      onMouseDown={(ev) => {
        const x = svgX(svgRef.current, ev.clientX);
        if (ev.button === 0 && x >= lay.plotLeft && x <= lay.plotRight) {
          setDrag({ x0: x, x1: x });
        }
      }}
      onMouseMove={(ev) => drag && setDrag({ ...drag, x1: svgX(svgRef.current, ev.clientX) })}
      onMouseUp={(ev) => {
        if (drag) {
          const w = selectedWindow(lay, full, drag.x0, svgX(svgRef.current, ev.clientX));
          setDrag(undefined);
          if (w) {
            onZoom(w);
          }
        }
      }}
      onMouseLeave={() => setDrag(undefined)}
      onDoubleClick={() => onZoom(undefined)}
    >
      {lay.ticks.map((t) => (
        <g key={t.us} data-testid="np-tick">
          <line x1={t.x} x2={t.x} y1={AXIS_TOP} y2={lay.height} stroke={grid} />
          <text x={t.x} y={AXIS_TOP - 4} fill={text} fontSize={11} textAnchor="middle">
            {usText(t.us)}
          </text>
        </g>
      ))}
      {largest && largestBox && (
        <rect
          data-testid="np-largest"
          data-kind={largest.kind}
          x={largest.x0}
          width={Math.max(2, largest.x1 - largest.x0)}
          y={largestBox.lanesTop}
          height={largestBox.tracks[1] + 10 - largestBox.lanesTop}
          fill={colour(LATENCY_COLOUR[largest.kind])}
          opacity={0.15}
        />
      )}
      {lay.points.map((b) => (
        <g key={b.point.key} data-testid="np-point" data-point={b.point.key}>
          <text x={4} y={b.y + 14} fill={theme.colors.text.primary} fontSize={12} fontWeight={500}>
            {pointLabel(b.point)}
          </text>
          {b.lanes.map((l) => (
            <g key={l.direction} data-testid="np-lane" data-direction={l.direction} data-y={l.mid}>
              <line x1={lay.plotLeft} x2={lay.plotRight} y1={l.mid} y2={l.mid} stroke={grid} />
              <text x={12} y={l.mid + 4} fill={text} fontSize={11}>
                {l.direction === 'client_to_server' ? 'client → server' : 'server → client'}
              </text>
            </g>
          ))}
          <text x={12} y={b.tracks[0] + 4} fill={text} fontSize={11}>
            latencies
          </text>
        </g>
      ))}
      {lay.packets.map((p) => (
        <PacketMark
          key={p.index}
          p={p}
          colour={colour(PACKET_COLOUR[p.kind])}
          zeroColour={colour(ZERO_WINDOW_COLOUR)}
          onEnter={() => onHover(p.index)}
          onLeave={() => onHover(undefined)}
        />
      ))}
      {lay.intervals.map((iv) => (
        <IntervalMark
          key={`${iv.interval.point}|${iv.kind}|${iv.interval.startUs}`}
          iv={iv}
          colour={colour(LATENCY_COLOUR[iv.kind])}
        />
      ))}
      {drag && Math.abs(drag.x1 - drag.x0) >= 1 && (
        <rect
          data-testid="np-zoom-selection"
          x={Math.max(lay.plotLeft, Math.min(drag.x0, drag.x1))}
          width={Math.abs(Math.min(lay.plotRight, drag.x1) - drag.x0)}
          y={AXIS_TOP}
          height={lay.height - AXIS_TOP}
          fill={theme.colors.primary.main}
          opacity={0.15}
        />
      )}
    </svg>
  );
}

/** Top of the plot below the axis labels. */
const AXIS_TOP = 22;

function PacketTooltip({
  model,
  lay,
  index,
  className,
}: {
  model: NetProfileModel;
  lay: ProfileLayout;
  index: number;
  className: string;
}) {
  const p = model.packets[index];
  const placed = lay.packets.find((x) => x.index === index);
  if (!p || !placed) {
    return null;
  }
  const left = Math.min(placed.x + 10, lay.width - 260);
  const rows: Array<[string, string]> = [
    ['packet', `${PACKET_LABEL[p.kind]} (${p.flags || 'no flags'})`],
    ['time', `+${usText(p.timeUs - model.startUs)}`],
    ['direction', p.direction === 'client_to_server' ? 'client → server' : 'server → client'],
    ['seen at', p.point],
    ['payload', `${p.size} B`],
    ['seq', String(p.seq)],
    ['ack', String(p.ack)],
    ...(p.window !== undefined
      ? [['window', p.zeroWindow ? '0: zero window (receive buffer full)' : String(p.window)] as [string, string]]
      : []),
  ];
  return (
    <div className={className} style={{ left, top: placed.y + 14 }} data-testid="np-tooltip">
      <table>
        <tbody>
          {rows.map(([k, v]) => (
            <tr key={k}>
              <td>{k}</td>
              <td data-testid={`np-tooltip-${k.replace(' ', '-')}`}>{v}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
