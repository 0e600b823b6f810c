import {
  LABEL_WIDTH,
  MIN_VIEW_US,
  RIGHT_PAD,
  clampView,
  layout,
  packetHeight,
  selectedWindow,
  ticks,
  ticksIn,
  zoomedWindow,
} from './layout';
import { netProfileModel } from './model';
import { recordedAnswer, recordedScenarios } from './testFrames';

const WIDTH = 1200;

describe('network profile layout (the think-time flow the real agent captured)', () => {
  const model = netProfileModel(recordedAnswer('think').frames)!;
  const lay = layout(model, WIDTH);
  const { thinkMs } = recordedScenarios();

  it('reads both observation points, client side first, with every packet and interval', () => {
    expect(model.points.map((p) => p.observationPoint)).toEqual(['client_nic', 'server_nic']);
    expect(model.packets).toHaveLength(32);
    expect(model.intervals).toHaveLength(14);
    expect(lay.packets).toHaveLength(32);
  });

  it('puts each packet at its time, in the lane of its direction and point', () => {
    const span = model.endUs - model.startUs;
    const plotWidth = WIDTH - RIGHT_PAD - LABEL_WIDTH;
    for (const placed of lay.packets) {
      const p = model.packets[placed.index];
      expect(placed.x).toBeCloseTo(LABEL_WIDTH + ((p.timeUs - model.startUs) / span) * plotWidth, 6);
      const box = lay.points.find((b) => b.point.key === p.point)!;
      expect(placed.y).toBe(box.lanes[p.direction === 'client_to_server' ? 0 : 1].mid);
    }
    const xs = lay.packets.map((p) => p.x);
    expect(Math.min(...xs)).toBeCloseTo(LABEL_WIDTH, 6);
    // the first SYN opens the flow at the left edge of the plot
    expect(model.packets[lay.packets.find((p) => p.x === Math.min(...xs))!.index].kind).toBe('syn');
    // the two points' lanes do not overlap
    expect(lay.points[1].y).toBeGreaterThan(lay.points[0].tracks[1]);
  });

  it('marks each interval from its start to its end; the client wait of ≈ the think time is the largest', () => {
    const largest = lay.intervals.filter((iv) => iv.largest);
    expect(largest).toHaveLength(1);
    expect(largest[0].kind).toBe('client_wait');
    expect(largest[0].interval.durationUs).toBeGreaterThanOrEqual((thinkMs - 5) * 1000);
    expect(largest[0].interval.durationUs).toBeLessThan((thinkMs + 100) * 1000);
    for (const iv of lay.intervals) {
      expect(iv.x0).toBeCloseTo(lay.x(iv.interval.startUs), 6);
      expect(iv.x1).toBeCloseTo(lay.x(iv.interval.endUs), 6);
      const box = lay.points.find((b) => b.point.key === iv.interval.point)!;
      expect(iv.y).toBe(box.tracks[iv.kind === 'system_ack' ? 1 : 0]);
    }
    // two client waits per point, each wider than everything but the other
    const waits = lay.intervals.filter((iv) => iv.kind === 'client_wait');
    expect(waits).toHaveLength(4);
    const others = lay.intervals.filter((iv) => iv.kind !== 'client_wait');
    expect(Math.min(...waits.map((w) => w.x1 - w.x0))).toBeGreaterThan(Math.max(...others.map((o) => o.x1 - o.x0)));
  });

  it('leaves the ACK latency out on request, unless it is the largest', () => {
    const noAck = layout(model, WIDTH, false);
    expect(noAck.intervals.filter((iv) => iv.kind === 'system_ack')).toHaveLength(0);
    expect(noAck.intervals).toHaveLength(12);
  });

  it('sizes data by payload and picks round ticks', () => {
    expect(packetHeight('data', 1)).toBe(8);
    expect(packetHeight('data', 1024)).toBe(18);
    expect(packetHeight('data', 1 << 20)).toBe(24);
    expect(packetHeight('ack', 0)).toBe(8);
    expect(ticks(450_000)).toEqual([0, 100_000, 200_000, 300_000, 400_000]);
    expect(ticks(7)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});

describe('zooming the network profile into a time window', () => {
  const model = netProfileModel(recordedAnswer('think').frames)!;
  const full = { startUs: model.startUs, endUs: model.endUs };
  const whole = layout(model, WIDTH);
  const plot = WIDTH - RIGHT_PAD - LABEL_WIDTH;

  it('draws the window across the plot: packets inside at their time, intervals cut at the edges', () => {
    const wait = model.intervals.find((iv) => iv.kind === 'client_wait')!;
    // the window: the wait's second half and 20 ms beyond
    const view = { startUs: wait.startUs + wait.durationUs / 2, endUs: wait.endUs + 20_000 };
    const lay = layout(model, WIDTH, true, view);
    const inside = model.packets.filter((p) => p.timeUs >= view.startUs && p.timeUs <= view.endUs);
    expect(lay.packets.map((p) => p.index)).toEqual(inside.map((p) => p.row));
    for (const p of lay.packets) {
      const t = model.packets[p.index].timeUs;
      expect(p.x).toBeCloseTo(LABEL_WIDTH + ((t - view.startUs) / (view.endUs - view.startUs)) * plot, 6);
    }
    const cut = lay.intervals.find((iv) => iv.interval === wait)!;
    expect(cut.x0).toBe(LABEL_WIDTH);
    expect(cut.x1).toBeCloseTo(LABEL_WIDTH + (wait.durationUs / 2 / (view.endUs - view.startUs)) * plot, 6);
    expect(cut.interval.durationUs).toBe(wait.durationUs); // its value stays whole
    expect(lay.intervals.every((iv) => iv.interval.endUs >= view.startUs && iv.interval.startUs <= view.endUs)).toBe(
      true
    );
    // ticks at round times from the flow's start, inside the window
    expect(lay.ticks.length).toBeGreaterThan(1);
    for (const t of lay.ticks) {
      expect(t.x).toBeGreaterThanOrEqual(LABEL_WIDTH - 1e-6);
      expect(t.x).toBeLessThanOrEqual(WIDTH - RIGHT_PAD + 1e-6);
    }
    expect(ticksIn(205_000, 330_000)).toEqual([220_000, 240_000, 260_000, 280_000, 300_000, 320_000]);
  });

  it('a drag selects the times under it; a click selects nothing', () => {
    const w = selectedWindow(whole, full, LABEL_WIDTH + plot * 0.75, LABEL_WIDTH + plot * 0.25)!;
    expect(w.startUs).toBeCloseTo(model.startUs + (model.endUs - model.startUs) * 0.25, 0);
    expect(w.endUs).toBeCloseTo(model.startUs + (model.endUs - model.startUs) * 0.75, 0);
    expect(selectedWindow(whole, full, 500, 503)).toBeUndefined();
    // dragged past the plot's edges: the flow's edges
    expect(selectedWindow(whole, full, 0, WIDTH + 50)).toEqual(full);
  });

  it('the wheel zooms around the pointer and stops at the whole flow and at MIN_VIEW_US', () => {
    const x = LABEL_WIDTH + plot * 0.3;
    const at = whole.timeAt(x);
    const w = zoomedWindow(whole, full, x, 0.8);
    // (µs since the epoch are ~1.8e15: doubles keep them to a fraction of a µs)
    expect(w.endUs - w.startUs).toBeCloseTo((model.endUs - model.startUs) * 0.8, 0);
    expect(layout(model, WIDTH, true, w).x(at)).toBeCloseTo(x, 3);
    expect(zoomedWindow(layout(model, WIDTH, true, w), full, x, 1 / 0.8 ** 3)).toEqual(full);
    let lay = whole;
    for (let i = 0; i < 200; i++) {
      lay = layout(model, WIDTH, true, zoomedWindow(lay, full, x, 0.5));
    }
    expect(lay.view.endUs - lay.view.startUs).toBeCloseTo(MIN_VIEW_US, 0);
    expect(clampView({ startUs: full.startUs - 5, endUs: full.startUs + 5 }, full)).toEqual({
      startUs: full.startUs,
      endUs: full.startUs + MIN_VIEW_US,
    });
  });
});
