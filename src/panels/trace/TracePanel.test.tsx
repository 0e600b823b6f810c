import React from 'react';
import { fireEvent, render, screen, within } from '@testing-library/react';
import { type DataFrame, LoadingState, type PanelData, type PanelProps } from '@grafana/data';
import { panelProps } from '../testPanelProps';
import { ROW_HEIGHT, TracePanel } from './TracePanel';
import { checkoutFrames, largeTraceFrames, recordedFaultScenarios, recordedTrace, traceFrames } from './testFrames';
import { DEFAULT_OPTIONS, type TracePanelOptions } from './types';

function props(
  series: DataFrame[],
  o: { options?: Partial<TracePanelOptions>; data?: Partial<PanelData>; height?: number; width?: number } = {}
): PanelProps<TracePanelOptions> {
  return panelProps(series, { ...DEFAULT_OPTIONS, ...o.options }, { ...o, title: 'Trace' });
}

const rows = () => screen.getAllByTestId('trace-row');

describe('TracePanel', () => {
  it('shows the verdict in one sentence and every span under its parent', () => {
    render(<TracePanel {...props(checkoutFrames())} />);
    expect(screen.getByTestId('trace-verdict')).toHaveTextContent(
      "82% of the 240 ms is between checkout's NIC and payments' NIC: network"
    );
    expect(screen.getByTestId('trace-summary')).toHaveTextContent('8 spans · 240 ms end to end · trace fl-test');
    const r = rows();
    expect(r.map((x) => `${x.dataset.depth}:${x.dataset.spanId}`)).toEqual([
      '0:1',
      '1:2',
      '2:3',
      '3:4',
      '4:9',
      '4:5',
      '5:6',
      '6:7',
    ]);
    // each row sits below its parent
    const top = (el: HTMLElement) => parseFloat(el.style.top);
    for (const x of r) {
      const p = r.find((y) => y.dataset.spanId === x.dataset.parentId);
      if (p) {
        expect(top(p)).toBeLessThan(top(x));
      }
    }
    expect(within(r[0]).getByText('GET /api/checkout')).toBeInTheDocument();
    expect(within(r[0]).getByText('web · client process')).toBeInTheDocument();
  });

  it("draws each span's critical-path share on its bar", () => {
    render(<TracePanel {...props(checkoutFrames())} />);
    const nic = rows().find((x) => x.dataset.spanId === '6')!;
    expect(nic.dataset.criticalShare).toBe((195.8 / 240).toFixed(4));
    expect(within(nic).getByText('218 ms · 82% of the critical path')).toBeInTheDocument();
    const bar = within(nic).getByTestId('trace-bar');
    expect(bar.style.left).toBe(`${(11 / 240) * 100}%`);
    expect((bar.firstChild as HTMLElement).style.width).toBe(`${(195.8 / 218) * 100}%`);
  });

  it('shows each hop on the critical-path strip, largest first', () => {
    render(<TracePanel {...props(checkoutFrames())} />);
    const seg = screen.getAllByTestId('trace-hop-segment');
    expect(seg.map((x) => x.dataset.hop)).toEqual([
      'network: checkout → payments',
      'server_app: checkout',
      'network: web → checkout',
      'server_app: payments',
      'client_app: web',
      'dependency: mysql',
    ]);
    expect(seg[0]).toHaveTextContent('checkout → payments 82%');
    expect(seg[0].style.flexGrow).toBe('0.82');
    // clicking a hop dims the spans of the other hops
    fireEvent.click(seg[0]);
    const dimmed = rows().filter((x) => x.dataset.dimmed === 'true');
    expect(dimmed.map((x) => x.dataset.spanId).sort()).toEqual(['1', '2', '3', '4', '7', '9']);
  });

  it('groups the spans by hop', () => {
    render(<TracePanel {...props(checkoutFrames(), { options: { layout: 'hops' } })} />);
    const groups = screen.getAllByTestId('trace-hop-group');
    expect(groups.map((g) => g.dataset.hop)).toEqual([
      'network: checkout → payments',
      'server_app: checkout',
      'network: web → checkout',
      'server_app: payments',
      'client_app: web',
      'dependency: mysql',
    ]);
    expect(groups[0]).toHaveTextContent('network checkout → payments197 ms on the critical path (82%) · 2 spans');
    expect(rows()).toHaveLength(8);
  });

  it('switches the rows between the call tree and the hops through the panel options', () => {
    const p = props(checkoutFrames());
    render(<TracePanel {...p} />);
    fireEvent.click(screen.getByLabelText('By hop'));
    expect(p.onOptionsChange).toHaveBeenCalledWith({ ...DEFAULT_OPTIONS, layout: 'hops' });
  });

  it('opens a span: every field, the rule and ids that linked it, the clock-skew correction, typed links', () => {
    render(<TracePanel {...props(checkoutFrames())} />);
    fireEvent.click(rows().find((x) => x.dataset.spanId === '7')!);
    const d = screen.getByTestId('span-details');
    expect(d.dataset.spanId).toBe('7');
    expect(within(d).getByTestId('span-link-rule')).toHaveTextContent(
      'TCP sequence: the same request further along its path'
    );
    expect(within(d).getByTestId('span-link-rule')).toHaveTextContent(
      'parent: POST /pay [client NIC] (checkout, client NIC, span 6)'
    );
    expect(within(d).getByTestId('span-link-ids')).toHaveTextContent('tcp_seq_request12345');
    expect(within(d).getByTestId('span-clock-skew')).toHaveTextContent(
      "shifted by -2.5 ms to correct the clock skew between pay-1 and its parent's host"
    );
    const fields = within(d).getByTestId('span-fields');
    for (const name of [
      'traceID',
      'spanID',
      'parentSpanID',
      'startTime',
      'duration',
      'observation_point',
      'pid',
      'hop_kind',
      'critical_time_ms',
      'link',
      'clock_skew_correction_ms',
    ]) {
      expect(within(fields).getByText(name)).toBeInTheDocument();
    }
    const links = within(d).getAllByTestId('span-link');
    expect(links.map((l) => `${l.dataset.queryType}${l.dataset.event ? ` ${l.dataset.event}` : ''}`)).toEqual([
      'netprofile',
      'flamegraph on_cpu',
      'flamegraph off_cpu',
    ]);
    const offCpu = JSON.parse(within(links[2]).getByTestId('span-link-query').textContent!);
    expect(offCpu).toMatchObject({ queryType: 'flamegraph', pid: [700], event: 'off_cpu' });
    const flame = JSON.parse(within(links[1]).getByTestId('span-link-query').textContent!);
    expect(flame).toMatchObject({ queryType: 'flamegraph', pid: [700], host: ['pay-1'], event: 'on_cpu' });
    expect(within(links[1]).getByRole('link').getAttribute('href')).toMatch(/^\/explore\?.*panes=/);
    fireEvent.click(within(d).getByLabelText('Close the span details'));
    expect(screen.queryByTestId('span-details')).not.toBeInTheDocument();
  });

  it('folds and unfolds a subtree', () => {
    render(<TracePanel {...props(checkoutFrames())} />);
    fireEvent.click(screen.getAllByLabelText('Hide the spans below')[4]); // span 5
    expect(rows().map((x) => x.dataset.spanId)).toEqual(['1', '2', '3', '4', '9', '5']);
    fireEvent.click(screen.getByLabelText('Show the 2 spans below'));
    expect(rows()).toHaveLength(8);
  });

  it('renders only the rows in view of a 2,000-span trace', () => {
    const height = 600;
    render(<TracePanel {...props(largeTraceFrames(2000), { height })} />);
    const body = screen.getByTestId('trace-rows');
    expect(body.dataset.rows).toBe('2000');
    const first = rows();
    expect(first.length).toBeLessThanOrEqual(Math.ceil(height / ROW_HEIGHT) + 16);
    expect(first[0].dataset.spanId).toBe('s0');
    fireEvent.scroll(body, { target: { scrollTop: 1990 * ROW_HEIGHT } });
    const last = rows();
    expect(last.length).toBeLessThanOrEqual(Math.ceil(height / ROW_HEIGHT) + 16);
    expect(last[last.length - 1].dataset.spanId).toBe('s1999');
  });

  it('says so when the query found no trace, with the backend notice', () => {
    const [trace, verdict] = traceFrames([], [], 0);
    trace.meta = {
      ...trace.meta,
      notices: [{ severity: 'info', text: 'no request log with trace_id or x_request_id "x" in the time range' }],
    };
    render(<TracePanel {...props([trace, verdict])} />);
    expect(screen.getByTestId('trace-empty')).toHaveTextContent('No trace to show');
    expect(screen.getByTestId('trace-notice')).toHaveTextContent('no request log with trace_id');
    expect(screen.queryByTestId('trace-panel')).not.toBeInTheDocument();
  });

  it('shows the query error', () => {
    const error = { message: 'a trace query needs exactly one of row_id or trace_id' };
    render(<TracePanel {...props([], { data: { state: LoadingState.Error, error, errors: [error] } })} />);
    expect(screen.getByTestId('trace-error')).toHaveTextContent('The trace query failed');
    expect(screen.getByTestId('trace-error')).toHaveTextContent(
      'a trace query needs exactly one of row_id or trace_id'
    );
  });
});

describe('TracePanel: the network under the trace (the real plugin binary over the real agent capture)', () => {
  const custom = (frames: DataFrame[]) =>
    frames[0].meta!.custom!.verdict as { network: Array<Record<string, number | string>>; notes: string[] };

  it('names the network path with its retransmission figures when the request waited on a timeout', () => {
    const frames = recordedTrace('rto');
    const n = custom(frames).network[0];
    expect(n.retransmissions).toBeGreaterThan(0);
    expect(n.retrans_wait_ms as number).toBeGreaterThanOrEqual(200);
    render(<TracePanel {...props(frames)} />);
    const verdict = screen.getByTestId('trace-verdict');
    expect(verdict.dataset.culprit).toBe('network: curl → files-lossy');
    expect(verdict).toHaveTextContent(
      new RegExp(
        `^\\d+% of the \\d+ ms is between curl's NIC and files-lossy's NIC: network, ${n.retransmissions} retransmissions, ${Math.round(n.retrans_wait_ms as number)} ms waiting on them$`
      )
    );
    // no second line repeats the culprit's figures
    expect(screen.queryByTestId('trace-network')).toBeNull();
    // each resend is marked on the bar of the NIC span that saw it
    const marks = screen.getAllByTestId('trace-net-mark');
    expect(marks).toHaveLength(n.retransmissions as number);
    // at the sender's NIC: the server's, for response data
    expect(n.seen_at).toBe('server_nic');
    const nic = rows().find((r) => r.textContent?.includes('[server NIC]'))!;
    expect(within(nic).getAllByTestId('trace-net-mark')).toHaveLength(n.retransmissions as number);
    fireEvent.click(nic);
    const events = within(screen.getByTestId('span-events')).getAllByTestId('span-event');
    expect(events).toHaveLength(n.retransmissions as number);
    expect(events[0]).toHaveTextContent(/TCP retransmission of \d+ response \(server → client\) bytes at seq \d+/);
  });

  it('keeps the server the culprit where its own writes outweigh the wait, and names the network path beside it', () => {
    const frames = recordedTrace('lossy');
    const n = custom(frames).network[0];
    render(<TracePanel {...props(frames)} />);
    expect(screen.getByTestId('trace-verdict')).toHaveTextContent(/is inside files-lossy: its own processing/);
    expect(screen.getByTestId('trace-network-line')).toHaveTextContent(
      `curl → files-lossy: ${n.retransmissions} retransmissions, ${Math.round((n.retrans_wait_ms as number) * 1000)} µs waiting on them (${Math.round((n.critical_wait_ms as number) * 1000)} µs of them on the critical path)`
    );
  });

  it('counts the connects refused before the request', () => {
    const frames = recordedTrace('refused');
    const fails = recordedFaultScenarios().refused[0].fails;
    render(<TracePanel {...props(frames)} />);
    expect(screen.getByTestId('trace-network-line')).toHaveTextContent(
      `python3 → flaky: ${fails} failed connects before the request (RST from the server)`
    );
    const client = rows()[0];
    expect(
      within(client)
        .getAllByTestId('trace-net-mark')
        .map((m) => m.dataset.kind)
    ).toEqual(['connect_failed']);
  });

  it("shows a keep-alive client's wait before the request as a note", () => {
    const frames = recordedTrace('think');
    const wait = custom(frames).network[0].client_wait_ms as number;
    expect(wait).toBeGreaterThanOrEqual(recordedFaultScenarios().thinkMs);
    render(<TracePanel {...props(frames)} />);
    expect(screen.getByTestId('trace-note')).toHaveTextContent(
      `before this request node waited ${wait}ms on its keep-alive connection (client wait, outside the trace's`
    );
    // the backend's notice of it is not shown twice
    expect(screen.queryAllByTestId('trace-notice').filter((n) => /waited/.test(n.textContent ?? ''))).toHaveLength(0);
  });
});
