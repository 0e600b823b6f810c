import { FieldType, createDataFrame } from '@grafana/data';
import {
  buildTree,
  formatMs,
  groupByHop,
  hopShares,
  spansOf,
  traceModel,
  verdictSentence,
  visibleRows,
  type TraceModel,
  type TraceSpan,
} from './model';
import { CHECKOUT_SPANS, T0, checkoutFrames, largeTraceFrames, traceFrames } from './testFrames';
import { flameGraphLink, netProfileLink, splitHostPort, threadActivityHref } from './links';

const span = (id: string, parent: string, start: number, obs = 'server_process'): TraceSpan => ({
  ...spansOf(
    traceFrames([{ id, op: id, service: 's', obs, start, dur: 1, hopKind: 'server_app', hop: 's', crit: 0 }], [], 1)[0]
  )[0],
  parentSpanID: parent,
});

function model(): TraceModel {
  return traceModel(checkoutFrames())!;
}

describe('traceModel', () => {
  it('reads every span of the trace frame and the verdict frame', () => {
    const m = model();
    expect(m.spans).toHaveLength(CHECKOUT_SPANS.length);
    expect(m.traceID).toBe('fl-test');
    expect(m.durationMs).toBe(240);
    expect(m.startMs).toBe(T0);
    expect(m.endMs).toBe(T0 + 240);
    expect(m.hops.map((h) => h.hop)).toEqual([
      'network: checkout → payments',
      'server_app: checkout',
      'network: web → checkout',
      'server_app: payments',
      'client_app: web',
      'dependency: mysql',
    ]);
    expect(m.culprit).toMatchObject({ hop: 'network: checkout → payments', criticalMs: 196.8, share: 0.82 });
    const pay = m.spans.find((s) => s.spanID === '7')!;
    expect(pay).toMatchObject({
      observationPoint: 'server_process',
      pid: 700,
      clockSkewMs: -2.5,
      link: 'same_request',
      hop: 'server_app: payments',
    });
    expect(pay.warnings).toEqual(["shifted by -2.5 ms to correct the clock skew between pay-1 and its parent's host"]);
    expect(pay.tags.find((t) => t.key === 'tcp_seq_request')?.value).toBe('12345');
    // the verdict notice repeats the sentence: not listed again
    expect(m.notices).toEqual([]);
  });

  it('is undefined without a trace frame, and empty for a trace frame without rows', () => {
    expect(traceModel([])).toBeUndefined();
    const [empty] = traceFrames([], [], 0);
    const m = traceModel([empty])!;
    expect(m.spans).toEqual([]);
    expect(m.culprit).toBeUndefined();
    expect(verdictSentence(m)).toBe('');
  });

  it('parses JSON text in the tags field (a frame built by hand)', () => {
    const f = createDataFrame({
      name: 'trace',
      fields: [
        { name: 'spanID', type: FieldType.string, values: ['a'] },
        { name: 'parentSpanID', type: FieldType.string, values: [''] },
        { name: 'startTime', type: FieldType.number, values: [5] },
        { name: 'duration', type: FieldType.number, values: [2] },
        { name: 'tags', type: FieldType.string, values: ['[{"key":"client","value":"1.2.3.4:5"}]'] },
      ],
    });
    const m = traceModel([f])!;
    expect(m.spans[0].tags).toEqual([{ key: 'client', value: '1.2.3.4:5' }]);
    expect(m.durationMs).toBe(2);
  });
});

describe('buildTree', () => {
  it('puts each span right under its parent, siblings by start time', () => {
    const rows = buildTree(model().spans);
    expect(rows.map((r) => `${'.'.repeat(r.depth)}${r.span.spanID}`)).toEqual([
      '1',
      '.2',
      '..3',
      '...4',
      '....9',
      '....5',
      '.....6',
      '......7',
    ]);
    const byID = new Map(rows.map((r, i) => [r.span.spanID, i]));
    for (const [i, r] of rows.entries()) {
      if (r.span.parentSpanID) {
        const p = byID.get(r.span.parentSpanID)!;
        expect(p).toBeLessThan(i);
        expect(rows[p].depth).toBe(r.depth - 1);
      }
    }
    expect(rows[0]).toMatchObject({ children: 1, descendants: 7 });
    expect(rows.find((r) => r.span.spanID === '4')).toMatchObject({ children: 2, descendants: 4 });
  });

  it('orders siblings that start together along the call path, then by id', () => {
    const rows = buildTree([
      span('r', '', 0),
      span('b', 'r', 5, 'server_nic'),
      span('a', 'r', 5, 'client_nic'),
      span('c', 'r', 5, 'client_nic'),
      span('z', 'r', 1),
    ]);
    expect(rows.map((r) => r.span.spanID)).toEqual(['r', 'z', 'a', 'c', 'b']);
  });

  it('shows spans whose parent is missing as roots, and survives a parent cycle', () => {
    const rows = buildTree([span('x', 'y', 2), span('y', 'x', 1), span('orphan', 'gone', 0), span('k', 'orphan', 3)]);
    expect(rows.map((r) => `${r.depth}${r.span.spanID}`)).toEqual(['0orphan', '1k', '0y', '1x']);
  });

  it('builds a 2,000-span chain without recursion and folds subtrees', () => {
    const chain = Array.from({ length: 2000 }, (_, i) => span(`s${i}`, i ? `s${i - 1}` : '', i));
    const rows = buildTree(chain);
    expect(rows).toHaveLength(2000);
    expect(rows[1999].depth).toBe(1999);
    expect(rows[0].descendants).toBe(1999);
    expect(visibleRows(rows, new Set(['s10']))).toHaveLength(11);
  });
});

describe('hops', () => {
  it('groups spans by hop in the verdict order, each group by start', () => {
    const groups = groupByHop(model());
    expect(groups.map((g) => [g.hop.hop, g.spans.map((s) => s.spanID)])).toEqual([
      ['network: checkout → payments', ['5', '6']],
      ['server_app: checkout', ['4']],
      ['network: web → checkout', ['2', '3']],
      ['server_app: payments', ['7']],
      ['client_app: web', ['1']],
      ['dependency: mysql', ['9']],
    ]);
  });

  it('sums critical-path time and shares from the spans when no verdict frame came', () => {
    const m = model();
    const hops = hopShares(m.spans, 240);
    expect(hops[0]).toMatchObject({ hop: 'network: checkout → payments', criticalMs: 196.8, culprit: true, spans: 2 });
    expect(hops[0].share).toBeCloseTo(0.82, 4);
    expect(hops.reduce((a, h) => a + h.share, 0)).toBeCloseTo(1, 6);
    const [trace] = checkoutFrames();
    expect(traceModel([trace])!.culprit?.hop).toBe('network: checkout → payments');
  });
});

describe('verdictSentence', () => {
  it('says where the time went in one sentence', () => {
    expect(verdictSentence(model())).toBe("82% of the 240 ms is between checkout's NIC and payments' NIC: network");
  });

  it('names a server, a dependency, a gateway and a client hop in words', () => {
    const m = model();
    const say = (kind: string, label: string, spans = m.spans) =>
      verdictSentence({
        spans,
        durationMs: 117.075,
        culprit: {
          hop: `${kind}: ${label}`,
          kind,
          label,
          criticalMs: 104.9,
          share: 0.896,
          selfMs: 0,
          spans: 1,
          culprit: true,
        },
      });
    expect(say('server_app', 'backend')).toBe(
      '90% of the 117 ms is inside backend: its own processing, not the calls it makes'
    );
    expect(say('dependency', 'postgres')).toBe(
      '90% of the 117 ms is waiting on postgres: a dependency seen from its client only'
    );
    expect(say('gateway', 'gw')).toBe('90% of the 117 ms is inside the gateway gw: load balancer or proxy');
    expect(say('client_app', 'curl (pid 7)')).toBe(
      "90% of the 117 ms is in curl (pid 7) before its NIC: the client's own process and host stack"
    );
    expect(say('network', 'a → b', [])).toBe('90% of the 117 ms is between a and b, outside both processes: network');
  });

  it('formats durations for reading', () => {
    expect([0.85, 4.5, 12.34, 240, 1250, 0].map(formatMs)).toEqual([
      '850 µs',
      '4.5 ms',
      '12.3 ms',
      '240 ms',
      '1.25 s',
      '0 ms',
    ]);
  });
});

describe('links', () => {
  it('carries the flow 5-tuple to the network profile and the pid and span time to the flame graph', () => {
    const m = model();
    const s = m.spans.find((x) => x.spanID === '9')!;
    const ds = { uid: 'flowlens', type: 'flowlens-clickhouse-datasource' };
    const np = netProfileLink(s, ds)!;
    expect(np.query).toEqual({
      refId: 'A',
      queryType: 'netprofile',
      client_ip: '10.0.0.1',
      client_port: 40000,
      server_ip: '10.0.0.9',
      server_port: 3306,
      host: 'co-1',
    });
    expect(np.from).toBe(T0 + 5 - 60_000);
    // the Network page with the flow chosen, not Explore
    const npURL = new URL(np.href, 'http://grafana');
    expect(npURL.pathname).toBe('/a/flowlens-observability-app/network');
    expect(Object.fromEntries(npURL.searchParams)).toEqual({
      from: String(np.from),
      to: String(np.to),
      cip: '10.0.0.1',
      cport: '40000',
      sip: '10.0.0.9',
      sport: '3306',
      at: String(np.to - 60_000),
    });
    const fg = flameGraphLink(s, ds)!;
    expect(fg.query).toEqual({ refId: 'A', queryType: 'flamegraph', pid: [300], host: ['co-1'], event: 'on_cpu' });
    // the rows of the span's seconds: from the second before its start (a row is labelled with its interval's start)
    expect([fg.from, fg.to]).toEqual([T0 - 1000, T0]);
    expect(fg.note).toMatch(/no thread id/);
    const pane = JSON.parse(decodeURIComponent(fg.href.split('panes=')[1])).trace;
    expect(pane.queries[0]).toMatchObject({ queryType: 'flamegraph', pid: [300], datasource: ds });
    expect(pane.range).toEqual({ from: String(T0 - 1000), to: String(T0) });
    expect(threadActivityHref(s, 4242)).toBe(
      `/a/flowlens-observability-app/profiling?pid=300&tid=4242&from=${T0 - 1000}&to=${T0}`
    );
    expect(flameGraphLink(s, ds, 4242)!.query).toMatchObject({ tid: [4242] });
    expect(flameGraphLink(s, ds, undefined, 'off_cpu')!).toMatchObject({
      query: { event: 'off_cpu' },
      title: 'Off-CPU flame graph of checkout 300 over the span',
    });
    // a NIC span names no process: no flame graph
    expect(
      flameGraphLink(
        m.spans.find((x) => x.spanID === '6')!,
        ds
      )
    ).toBeUndefined();
  });

  it('splits addresses with ports, IPv6 included', () => {
    expect(splitHostPort('10.1.2.3:443')).toEqual({ ip: '10.1.2.3', port: 443 });
    expect(splitHostPort('[::1]:8080')).toEqual({ ip: '::1', port: 8080 });
    expect(splitHostPort('fe80::1:53')).toEqual({ ip: 'fe80::1', port: 53 });
    expect(splitHostPort('nohost')).toEqual({ ip: 'nohost', port: 0 });
  });
});

it('a large synthetic trace keeps every span', () => {
  const m = traceModel(largeTraceFrames(2000))!;
  expect(buildTree(m.spans)).toHaveLength(2000);
});
