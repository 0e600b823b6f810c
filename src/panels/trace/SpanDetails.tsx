import React from 'react';
import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { IconButton, LinkButton, useStyles2 } from '@grafana/ui';
import { HOP_KIND_LABEL, OBSERVATION_LABEL, formatMs, formatShare, type TraceModel, type TraceSpan } from './model';
import { flameGraphLink, netProfileLink, threadActivityHref, type DatasourceRef, type SpanLink } from './links';

/** What each link rule (pkg/trace/link.go) means, in words. */
export const LINK_RULE: Record<string, string> = {
  same_request: 'TCP sequence: the same request further along its path (equal tcp_seq_request on the same 5-tuple)',
  same_flow: 'same flow: the one client and server view of a connection without TCP sequence numbers, times nested',
  parent_span_id: "trace header: its parent span id (B3 / traceparent) names the parent's span id",
  syscall_trace_id: "syscall trace id: made by the parent's server thread while it handled the request",
  trace_key:
    'trace id / X-Request-ID: shares one with the parent, the innermost call of that trace whose server is its client',
};

/** The ids that can link spans, in the tags the backend writes when a span carries them. */
const LINK_IDS = [
  'trace_id',
  'span_id',
  'parent_span_id',
  'x_request_id',
  'syscall_trace_id_request',
  'syscall_trace_id_response',
  'tcp_seq_request',
  'tcp_seq_response',
];

function show(v: unknown): string {
  if (v === null || v === undefined) {
    return '';
  }
  if (typeof v === 'object') {
    return JSON.stringify(v);
  }
  return String(v);
}

interface Props {
  span: TraceSpan;
  model: TraceModel;
  datasource?: DatasourceRef;
  colour: string;
  onClose: () => void;
}

export function SpanDetails({ span, model, datasource, colour, onClose }: Props) {
  const s = useStyles2(getStyles);
  const frame = model.frame;
  const parent = span.parentSpanID ? model.spans.find((x) => x.spanID === span.parentSpanID) : undefined;
  const tag = (k: string) => span.tags.find((t) => t.key === k);
  const ids = LINK_IDS.map((k) => [k, tag(k)?.value] as const).filter(([, v]) => v !== undefined && v !== '');
  const tidField = frame?.fields.find((f) => f.name === 'tid');
  const tid = tidField ? Number(tidField.values[span.row]) : undefined;
  const links = [
    netProfileLink(span, datasource),
    flameGraphLink(span, datasource, tid, 'on_cpu'),
    flameGraphLink(span, datasource, tid, 'off_cpu'),
  ].filter((l): l is SpanLink => !!l);
  const activity = threadActivityHref(span, tid);
  const critShare = model.durationMs > 0 ? span.criticalMs / model.durationMs : 0;
  return (
    <div className={s.pane} data-testid="span-details" data-span-id={span.spanID}>
      <div className={s.title}>
        <span className={s.swatch} style={{ background: colour }} />
        <strong className={s.grow}>{span.operationName}</strong>
        <IconButton name="times" aria-label="Close the span details" onClick={onClose} />
      </div>
      <div className={s.lead}>
        {span.serviceName} · {OBSERVATION_LABEL[span.observationPoint] ?? span.observationPoint} · hop{' '}
        {HOP_KIND_LABEL[span.hopKind] ?? span.hopKind} {span.hopLabel} · {formatMs(span.durationMs)},{' '}
        {formatMs(span.criticalMs)} on the critical path ({formatShare(critShare)}), {formatMs(span.selfMs)} self
      </div>

      <h6 className={s.h}>Linked by</h6>
      <div data-testid="span-link-rule">
        {span.link ? (LINK_RULE[span.link] ?? span.link) : 'nothing: the root of its trace'}
        {parent && (
          <div className={s.muted}>
            parent: {parent.operationName} ({parent.serviceName},{' '}
            {OBSERVATION_LABEL[parent.observationPoint] ?? parent.observationPoint}, span {parent.spanID})
          </div>
        )}
      </div>
      <table className={s.table} data-testid="span-link-ids">
        <tbody>
          {ids.length === 0 && (
            <tr>
              <td colSpan={2} className={s.muted}>
                no linking id captured on this span
              </td>
            </tr>
          )}
          {ids.map(([k, v]) => (
            <tr key={k}>
              <td>{k}</td>
              <td>{show(v)}</td>
            </tr>
          ))}
        </tbody>
      </table>

      <h6 className={s.h}>Clock skew</h6>
      <div data-testid="span-clock-skew">
        {span.clockSkewMs !== 0
          ? `shifted by ${formatMs(span.clockSkewMs)} to correct the clock skew between ${span.host || 'its host'} and its parent's host`
          : 'no correction applied'}
        {span.warnings.map((w, i) => (
          <div key={i} className={s.warning}>
            {w}
          </div>
        ))}
      </div>

      {span.events.length > 0 && (
        <>
          <h6 className={s.h}>Network and events</h6>
          <div data-testid="span-events">
            {span.retransWaitMs > 0 && (
              <div data-testid="span-retrans-wait">
                {formatMs(span.retransWaitMs)} of the critical path inside this span waited on retransmissions: the
                network path&apos;s time in the verdict
              </div>
            )}
            {span.events.map((e, i) => (
              <div key={i} data-testid="span-event" data-kind={e.kind}>
                <span className={s.muted}>
                  {e.timeMs >= span.startMs ? '+' : '−'}
                  {formatMs(Math.abs(e.timeMs - span.startMs))}
                </span>{' '}
                {e.message}
              </div>
            ))}
          </div>
        </>
      )}

      <h6 className={s.h}>Open</h6>
      {links.length === 0 && <div className={s.muted}>no flow or process known for this span</div>}
      {activity && (
        <div className={s.link}>
          <LinkButton href={activity} size="sm" variant="primary" icon="fire" data-testid="span-thread-activity">
            What was this thread doing: on-CPU and off-CPU side by side
          </LinkButton>
        </div>
      )}
      {links.map((l) => (
        <div
          key={l.title}
          className={s.link}
          data-testid="span-link"
          data-query-type={l.query.queryType}
          data-event={l.query.queryType === 'flamegraph' ? l.query.event : undefined}
        >
          <LinkButton
            href={l.href}
            size="sm"
            variant="secondary"
            icon={l.query.queryType === 'flamegraph' ? 'fire' : 'exchange-alt'}
          >
            {l.title}
          </LinkButton>
          <code className={s.query} data-testid="span-link-query">
            {JSON.stringify({ ...l.query, refId: undefined, from: l.from, to: l.to })}
          </code>
          {l.note && <div className={s.muted}>{l.note}</div>}
        </div>
      ))}

      <h6 className={s.h}>Tags</h6>
      <table className={s.table} data-testid="span-tags">
        <tbody>
          {span.tags.map((t, i) => (
            <tr key={`${t.key}-${i}`}>
              <td>{t.key}</td>
              <td>{show(t.value)}</td>
            </tr>
          ))}
        </tbody>
      </table>

      <h6 className={s.h}>Every field of the row</h6>
      <table className={s.table} data-testid="span-fields">
        <tbody>
          {frame?.fields.map((f) => (
            <tr key={f.name}>
              <td>{f.name}</td>
              <td>{f.name === 'tags' ? `${span.tags.length} tags (above)` : show(f.values[span.row])}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  pane: css({ padding: theme.spacing(1), fontSize: theme.typography.bodySmall.fontSize, overflowWrap: 'anywhere' }),
  title: css({
    display: 'flex',
    alignItems: 'center',
    gap: theme.spacing(0.5),
    fontSize: theme.typography.body.fontSize,
  }),
  grow: css({ flex: '1 1 auto' }),
  swatch: css({ display: 'inline-block', width: 10, height: 10, borderRadius: 2, flex: '0 0 auto' }),
  lead: css({ color: theme.colors.text.secondary, marginBottom: theme.spacing(1) }),
  h: css({
    margin: theme.spacing(1, 0, 0.5),
    fontSize: theme.typography.bodySmall.fontSize,
    color: theme.colors.text.primary,
  }),
  muted: css({ color: theme.colors.text.secondary }),
  warning: css({ color: theme.colors.warning.text }),
  link: css({
    marginBottom: theme.spacing(1),
    display: 'flex',
    flexDirection: 'column',
    alignItems: 'flex-start',
    gap: 2,
  }),
  query: css({ fontSize: 11, color: theme.colors.text.secondary, wordBreak: 'break-all' }),
  table: css({
    width: '100%',
    borderCollapse: 'collapse',
    td: { padding: '1px 4px', verticalAlign: 'top', borderBottom: `1px solid ${theme.colors.border.weak}` },
    'td:first-child': { color: theme.colors.text.secondary, whiteSpace: 'nowrap', width: '1%' },
  }),
});
