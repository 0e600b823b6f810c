import React from 'react';
import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { type DataFrame, LoadingState, type PanelData } from '@grafana/data';
import { panelProps } from '../testPanelProps';
import { NetProfilePanel } from './NetProfilePanel';
import { LABEL_WIDTH, RIGHT_PAD } from './layout';
import { netProfileModel } from './model';
import { recordedAnswer, recordedScenarios } from './testFrames';
import { DEFAULT_OPTIONS, type NetProfileOptions } from './types';

const WIDTH = 1100;

function draw(series: DataFrame[], o: { options?: Partial<NetProfileOptions>; data?: Partial<PanelData> } = {}) {
  return render(
    <NetProfilePanel
      {...panelProps(
        series,
        { ...DEFAULT_OPTIONS, ...o.options },
        { data: o.data, width: WIDTH, title: 'Network profile' }
      )}
    />
  );
}

const packets = () => screen.queryAllByTestId('np-packet');
const intervals = () => screen.getAllByTestId('np-interval');

describe('NetProfilePanel on the real plugin binary answers over real captures', () => {
  it('draws every packet of the think-time flow in its lane, and the client wait ≈ the think time as the largest interval', () => {
    const { frames } = recordedAnswer('think');
    const model = netProfileModel(frames)!;
    draw(frames);
    expect(packets()).toHaveLength(32);
    const kinds = packets().map((p) => p.dataset.kind);
    expect(kinds.filter((k) => k === 'syn')).toHaveLength(2);
    expect(kinds.filter((k) => k === 'syn_ack')).toHaveLength(2);
    expect(kinds.filter((k) => k === 'data')).toHaveLength(12);
    // the first packet at the plot's left edge, the last at its right
    const xs = packets().map((p) => Number(p.dataset.x));
    expect(Math.min(...xs)).toBeCloseTo(LABEL_WIDTH, 0);
    expect(Math.max(...xs)).toBeCloseTo(WIDTH - RIGHT_PAD, 0);
    // two lanes per observation point: client → server above server → client
    const lanes = screen.getAllByTestId('np-lane');
    expect(lanes.map((l) => l.dataset.direction)).toEqual([
      'client_to_server',
      'server_to_client',
      'client_to_server',
      'server_to_client',
    ]);
    expect(intervals()).toHaveLength(14);
    const largest = intervals().filter((i) => i.dataset.largest === 'true');
    expect(largest).toHaveLength(1);
    expect(largest[0].dataset.kind).toBe('client_wait');
    const { thinkMs } = recordedScenarios();
    const us = Number(largest[0].dataset.durationUs);
    expect(us).toBeGreaterThanOrEqual((thinkMs - 5) * 1000);
    expect(us).toBeLessThan((thinkMs + 100) * 1000);
    expect(us).toBe(model.largest!.durationUs);
    expect(largest[0]).toHaveTextContent(/^client wait 20\d ms/);
    // the shaded gap spans exactly that interval
    const band = screen.getByTestId('np-largest');
    expect(band.dataset.kind).toBe('client_wait');
    expect(Number(band.getAttribute('x'))).toBeCloseTo(Number(largest[0].dataset.x0), 1);
    expect(Number(band.getAttribute('width'))).toBeCloseTo(
      Number(largest[0].dataset.x1) - Number(largest[0].dataset.x0),
      1
    );
    // the agent's four latencies per point
    const rows = screen.getAllByTestId('np-summary-row');
    expect(rows).toHaveLength(2);
    expect(rows[0]).toHaveTextContent(/^client NIC · /);
    for (const [i, p] of model.points.entries()) {
      expect(within(rows[i]).getAllByRole('cell')[5]).toHaveTextContent(/^20\d ms avg, 20\d ms max \(2\)$/);
      expect(p.clientWait.count).toBe(2);
    }
  });

  it('shows a packet’s fields on hover', () => {
    const { frames } = recordedAnswer('think');
    const model = netProfileModel(frames)!;
    draw(frames);
    const target = packets().find((p) => p.dataset.kind === 'data')!;
    const p = model.packets[Number(target.dataset.index)];
    fireEvent.mouseEnter(target);
    const tip = screen.getByTestId('np-tooltip');
    expect(within(tip).getByTestId('np-tooltip-packet')).toHaveTextContent(`data (${p.flags})`);
    expect(within(tip).getByTestId('np-tooltip-payload')).toHaveTextContent(`${p.size} B`);
    expect(within(tip).getByTestId('np-tooltip-seq')).toHaveTextContent(String(p.seq));
    expect(within(tip).getByTestId('np-tooltip-ack')).toHaveTextContent(String(p.ack));
    expect(within(tip).getByTestId('np-tooltip-direction')).toHaveTextContent(/client → server|server → client/);
    fireEvent.mouseLeave(target);
    expect(screen.queryByTestId('np-tooltip')).not.toBeInTheDocument();
  });

  it('a 256-event row: the stored packets drawn, retransmissions marked, and the notice of what is left out', () => {
    const { frames } = recordedAnswer('lossy');
    const model = netProfileModel(frames)!;
    draw(frames);
    expect(packets()).toHaveLength(512);
    const retrans = model.packets.filter((p) => p.kind === 'retransmission').length;
    expect(retrans).toBeGreaterThan(0);
    expect(packets().filter((p) => p.dataset.kind === 'retransmission')).toHaveLength(retrans);
    const notices = screen.getAllByTestId('np-notice');
    expect(notices).toHaveLength(2);
    expect(notices[0]).toHaveTextContent(/256 of \d+ packets are drawn/);
    for (const row of screen.getAllByTestId('np-summary-row')) {
      expect(within(row).getAllByRole('cell')[1]).toHaveTextContent(/^256 of \d{3,} drawn$/);
    }
  });

  it('a refused connect: the SYN and the server’s RST at each NIC', () => {
    draw(recordedAnswer('refused').frames);
    expect(packets().map((p) => p.dataset.kind)).toEqual(['syn', 'rst', 'syn', 'rst']);
    expect(screen.queryAllByTestId('np-interval')).toHaveLength(0);
  });

  it('hides the ACK latency on request', () => {
    draw(recordedAnswer('think').frames, { options: { showAckLatency: false } });
    expect(intervals()).toHaveLength(12);
    expect(intervals().filter((i) => i.dataset.kind === 'system_ack')).toHaveLength(0);
  });

  it('an unknown flow: the empty state with the backend’s notice', () => {
    draw(recordedAnswer('empty').frames);
    expect(screen.getByTestId('np-empty')).toHaveTextContent('No packets to show');
    expect(screen.getByTestId('np-notice')).toHaveTextContent(/no packet timeline of .* in the time range/);
  });

  it('a refused query: the error', () => {
    const { error } = recordedAnswer('error');
    const e = { message: error!, refId: 'A' };
    draw([], { data: { state: LoadingState.Error, errors: [e] } });
    expect(screen.getByTestId('np-error')).toHaveTextContent('The network profile query failed');
    expect(screen.getByTestId('np-error')).toHaveTextContent(
      'give exactly one client_ip, client_port, server_ip and server_port'
    );
  });

  it('the stopped reader: its zero-window packets marked at each NIC, counted per point, the window on hover', () => {
    const { frames } = recordedAnswer('slow');
    const model = netProfileModel(frames)!;
    draw(frames);
    const zero = model.packets.filter((p) => p.zeroWindow);
    expect(zero.length).toBeGreaterThanOrEqual(2);
    expect(new Set(zero.map((p) => p.point)).size).toBe(2);
    expect(screen.getAllByTestId('np-zero-window')).toHaveLength(zero.length);
    const marked = packets().filter((p) => p.dataset.zeroWindow === 'true');
    expect(marked.map((p) => Number(p.dataset.index))).toEqual(zero.map((p) => p.row));
    // every zero-window packet is the reader's: client → server
    expect(zero.every((p) => p.direction === 'client_to_server' && p.window === 0)).toBe(true);
    for (const [i, row] of screen.getAllByTestId('np-summary-row').entries()) {
      const counted = model.points[i].zeroWindows;
      expect(counted).toBeGreaterThanOrEqual(1);
      expect(within(row).getAllByRole('cell')[7]).toHaveTextContent(String(counted));
    }
    fireEvent.mouseEnter(marked[0]);
    expect(screen.getByTestId('np-tooltip-window')).toHaveTextContent('0: zero window (receive buffer full)');
    cleanup();
    // the healthy think-time flow has none
    draw(recordedAnswer('think').frames);
    expect(screen.queryAllByTestId('np-zero-window')).toHaveLength(0);
  });

  it('zooms into a dragged time window, by the wheel around the pointer, and back', () => {
    const { frames } = recordedAnswer('think');
    const model = netProfileModel(frames)!;
    draw(frames);
    const chart = screen.getByTestId('np-chart');
    expect(screen.queryByTestId('np-zoom-reset')).not.toBeInTheDocument();
    // drag across the first client wait of the first point: it then fills the plot
    const wait = intervals().find((i) => i.dataset.kind === 'client_wait')!;
    // (jsdom's mouse events carry whole pixels: the drag spans the wait's pixels, a little more than the wait)
    const [x0, x1, waitUs] = [
      Math.floor(Number(wait.dataset.x0)),
      Math.ceil(Number(wait.dataset.x1)),
      wait.dataset.durationUs,
    ];
    fireEvent.mouseDown(chart, { clientX: x0, button: 0 });
    fireEvent.mouseMove(chart, { clientX: (x0 + x1) / 2 });
    expect(screen.getByTestId('np-zoom-selection')).toBeInTheDocument();
    fireEvent.mouseUp(chart, { clientX: x1 });
    expect(screen.queryByTestId('np-zoom-selection')).not.toBeInTheDocument();
    const zoomedWait = intervals().find((i) => i.dataset.kind === 'client_wait' && i.dataset.durationUs === waitUs)!;
    expect(Number(zoomedWait.dataset.x0) - LABEL_WIDTH).toBeGreaterThan(0);
    expect(Number(zoomedWait.dataset.x0) - LABEL_WIDTH).toBeLessThan(3);
    expect(WIDTH - RIGHT_PAD - Number(zoomedWait.dataset.x1)).toBeGreaterThan(0);
    expect(WIDTH - RIGHT_PAD - Number(zoomedWait.dataset.x1)).toBeLessThan(3);
    // only the packets inside the window are drawn: the wait is a silence, so the two packets bounding it at
    // this point (and those the other point saw within those ~200 ms)
    const span = model.endUs - model.startUs;
    const plot = WIDTH - RIGHT_PAD - LABEL_WIDTH;
    const t0 = model.startUs + ((x0 - LABEL_WIDTH) / plot) * span;
    const t1 = model.startUs + ((x1 - LABEL_WIDTH) / plot) * span;
    const inside = model.packets.filter((p) => p.timeUs >= t0 && p.timeUs <= t1);
    expect(packets()).toHaveLength(inside.length);
    expect(inside.length).toBeLessThan(model.packets.length);
    expect(screen.getByTestId('np-zoom')).toHaveTextContent(/^showing \+[\d.]+ ms to \+2\d\d ms of 4\d\d ms/);
    // the wheel: one notch in keeps the time under the pointer in place and narrows the window by 0.8
    const before = packets().map((p) => Number(p.dataset.x));
    const mid = (LABEL_WIDTH + WIDTH - RIGHT_PAD) / 2;
    fireEvent.wheel(chart, { deltaY: -100, clientX: mid });
    const zoomed = intervals().find((i) => i.dataset.kind === 'client_wait' && i.dataset.durationUs === waitUs)!;
    expect(Number(zoomed.dataset.x0)).toBe(LABEL_WIDTH); // the wait now runs past both edges: cut at the plot
    const after = packets().map((p) => Number(p.dataset.x));
    expect(after.length).toBeLessThanOrEqual(before.length);
    // a notch out, and out again past the whole flow: the whole flow, no reset needed
    fireEvent.wheel(chart, { deltaY: 100, clientX: mid });
    for (let i = 0; i < 30; i++) {
      fireEvent.wheel(chart, { deltaY: 100, clientX: mid });
    }
    expect(packets()).toHaveLength(32);
    expect(screen.queryByTestId('np-zoom-reset')).not.toBeInTheDocument();
    // drag again, then the reset button; a click (no drag) does not zoom
    fireEvent.mouseDown(chart, { clientX: x0, button: 0 });
    fireEvent.mouseUp(chart, { clientX: x0 + 2 });
    expect(packets()).toHaveLength(32);
    fireEvent.mouseDown(chart, { clientX: x1, button: 0 });
    fireEvent.mouseUp(chart, { clientX: x0 });
    expect(packets()).toHaveLength(inside.length);
    fireEvent.click(screen.getByTestId('np-zoom-reset'));
    expect(packets()).toHaveLength(32);
    expect(screen.getByTestId('np-zoom')).toHaveTextContent('drag across the chart to zoom');
  });

  it('another query type’s frames: the empty state', () => {
    draw([]);
    expect(screen.getByTestId('np-empty')).toBeInTheDocument();
  });
});
