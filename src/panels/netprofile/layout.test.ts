import { LABEL_WIDTH, RIGHT_PAD, layout, packetHeight, ticks } from './layout';
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
