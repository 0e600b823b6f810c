import React from 'react';
import { fireEvent, render, screen, within } from '@testing-library/react';
import { type DataFrame, LoadingState, type PanelData } from '@grafana/data';
import { panelProps } from '../testPanelProps';
import { FlameGraphPanel } from './FlameGraphPanel';
import { SHAPE_STACKS, flameFrame } from './testFrames';
import { DEFAULT_OPTIONS, type FlameGraphPanelOptions } from './types';

function props(series: DataFrame[], o: { targets?: Array<Record<string, unknown>>; data?: Partial<PanelData> } = {}) {
  return panelProps<FlameGraphPanelOptions>(series, DEFAULT_OPTIONS, {
    width: 1000,
    height: 700,
    title: 'Flame graph',
    data: {
      request: { targets: o.targets ?? [{ refId: 'A', queryType: 'flamegraph' }] } as unknown as PanelData['request'],
      ...o.data,
    },
  });
}

const rects = (testId = 'flame-graph') => within(screen.getByTestId(testId)).queryAllByTestId('flame-rect');
const rect = (label: string) => rects().find((r) => r.dataset.label === label);
const shown = (testId?: string) => rects(testId).map((r) => r.dataset.label);

describe('FlameGraphPanel', () => {
  it('draws every frame as wide as its value, under its caller', () => {
    render(<FlameGraphPanel {...props([flameFrame(SHAPE_STACKS)])} />);
    expect(screen.getByTestId('flame-summary')).toHaveTextContent('On-CPU (samples) · 105 samples · 18 nodes');
    const a = rect('work_a')!;
    const main = rect('main')!;
    // 1000 px panel, 16 px padding: 984 px for 105 samples
    expect(parseFloat(a.style.width)).toBeCloseTo((70 / 105) * 984 - 1, 6);
    expect(parseFloat(a.style.top)).toBe(parseFloat(main.style.top) + 18);
    expect(a.dataset.kind).toBe('user');
    expect(rect('schedule')!.dataset.kind).toBe('kernel');
    expect(rect('/usr/lib/x86_64-linux-gnu/libfoo.so+0x1a2b')!).toHaveTextContent('libfoo.so+0x1a2b');
    expect(rect('/usr/lib/x86_64-linux-gnu/libfoo.so+0x1a2b')!.dataset.kind).toBe('unsymbolized');
  });

  it('search highlights the matching frames and filters the table', () => {
    render(<FlameGraphPanel {...props([flameFrame(SHAPE_STACKS)])} />);
    fireEvent.change(screen.getByTestId('flame-search'), { target: { value: 'work_a' } });
    expect(
      rects()
        .filter((r) => r.dataset.match === '1')
        .map((r) => r.dataset.label)
    ).toEqual(['work_a']);
    expect(rect('work_b')!.style.opacity).toBe('0.25');
    expect(rect('work_a')!.style.opacity).toBe('1');
    expect(screen.getByTestId('flame-matches')).toHaveTextContent('1 frame matches "work_a" (66.7% of the total)');
    expect(screen.getAllByTestId('flame-top-row').map((r) => r.dataset.label)).toEqual(['work_a']);
  });

  it('a click focuses a frame and its subtree; a click on the root or the focus button goes back', () => {
    render(<FlameGraphPanel {...props([flameFrame(SHAPE_STACKS)])} />);
    fireEvent.click(rect('work_a')!);
    expect(shown()).toEqual(['total', '_start', '__libc_start_main', 'main', 'work_a']);
    expect(parseFloat(rect('work_a')!.style.width)).toBe(983);
    expect(rect('work_a')!.dataset.selected).toBe('1');
    expect(screen.getByTestId('flame-unfocus')).toHaveTextContent('Focus: work_a');
    // the table follows the focus
    expect(screen.getAllByTestId('flame-top-row').map((r) => r.dataset.label)).toEqual([
      'work_a',
      '__libc_start_main',
      '_start',
      'main',
    ]);
    fireEvent.click(rect('main')!); // a frame above the focus: focus moves up to it
    expect(shown()).toContain('work_b');
    expect(screen.getByTestId('flame-unfocus')).toHaveTextContent('Focus: main');
    fireEvent.click(screen.getByTestId('flame-unfocus'));
    expect(shown()).toHaveLength(18);
  });

  it('top functions by self with totals; the sandwich view of one of them', () => {
    render(<FlameGraphPanel {...props([flameFrame(SHAPE_STACKS)])} />);
    const rows = screen.getAllByTestId('flame-top-row');
    expect(rows.slice(0, 3).map((r) => r.dataset.label)).toEqual(['work_a', 'work_b', 'sysvec_apic_timer_interrupt']);
    expect(within(rows[1]).getByTestId('flame-top-self')).toHaveTextContent('25 samples');
    expect(within(rows[1]).getByTestId('flame-top-total')).toHaveTextContent('30 samples');
    fireEvent.click(within(rows[1]).getByLabelText('Sandwich view of work_b: its callers and callees'));
    expect(shown('flame-callers')).toEqual(['work_b', 'main', '__libc_start_main', '_start', 'total']);
    expect(shown('flame-callees')).toEqual([
      'work_b',
      'asm_sysvec_apic_timer_interrupt',
      'sysvec_apic_timer_interrupt',
    ]);
    fireEvent.click(screen.getByTestId('flame-unsandwich'));
    expect(screen.queryByTestId('flame-callers')).toBeNull();
    expect(shown()).toHaveLength(18);
  });

  it('a diff colours each frame by the change of its share: red grew, green shrank', () => {
    const diff = flameFrame([
      [['main', 'work_a'], 70, 40],
      [['main', 'work_b'], 30, 60],
    ]);
    render(<FlameGraphPanel {...props([diff])} />);
    expect(rect('work_b')!.dataset.change).toBe('100.0');
    expect(rect('work_a')!.dataset.change).toBe('-42.9');
    expect(rect('main')!.dataset.change).toBe('0.0');
    expect(rect('work_b')!.style.background).toBe('rgb(220, 24, 24)'); // hsl(0, 80%, 48%): twice the share, full red
    expect(rect('work_a')!.style.background).toMatch(/^rgb\((\d+), (\d+), \1\)$/); // green, as much red as blue
    expect(rect('main')!.style.background).toBe('rgb(179, 179, 179)');
    const changes = screen
      .getAllByTestId('flame-top-row')
      .map((r) => `${r.dataset.label} ${within(r).getByTestId('flame-top-change').textContent}`);
    expect(changes).toEqual(['work_a -43%', 'work_b +100%', 'main 0%']);
  });

  it("a diff colours every frame of a function by the function's change, under every stack variant", () => {
    // real profiles hold a function under several variants (a process's first second unwinds shorter stacks)
    const diff = flameFrame([
      [['_start', '__libc_start_main', 'main', 'work_a'], 60, 30],
      [['__libc_start_call_main', 'main', 'work_a'], 10, 10],
      [['_start', '__libc_start_main', 'main', 'work_b'], 25, 50],
      [['__libc_start_call_main', 'main', 'work_b'], 5, 10],
    ]);
    render(<FlameGraphPanel {...props([diff])} />);
    // work_a: 70 of 100 -> 40 of 100 (-42.9%) in all; the variants alone would read -50% and 0%
    const a = rects().filter((r) => r.dataset.label === 'work_a');
    const b = rects().filter((r) => r.dataset.label === 'work_b');
    expect(a.map((r) => r.dataset.change)).toEqual(['-42.9', '-42.9']);
    expect(b.map((r) => r.dataset.change)).toEqual(['100.0', '100.0']);
    expect(new Set(a.map((r) => r.style.background)).size).toBe(1);
    expect(a[0].title).toContain('baseline 10 samples, comparison 10 samples here; work_a in all: -43%');
    const row = screen.getAllByTestId('flame-top-row').find((r) => r.dataset.label === 'work_a')!;
    expect(within(row).getByTestId('flame-top-change')).toHaveTextContent('-43%');
  });

  it('shows on-CPU samples and off-CPU time blocked side by side, each with its own focus', () => {
    const on = flameFrame(SHAPE_STACKS, { refId: 'A' });
    const off = flameFrame(
      [[['reader_thread', 'block_on_pipe', 'read', 'entry_SYSCALL_64', 'schedule'], 700_000_000]],
      { refId: 'B', unit: 'ns' }
    );
    const targets = [
      { refId: 'A', queryType: 'flamegraph', event: 'on_cpu' },
      { refId: 'B', queryType: 'flamegraph', event: 'off_cpu' },
    ];
    const p = props([on, off], { targets });
    render(<FlameGraphPanel {...p} options={{ ...p.options, sideBySide: true }} />);
    const [left, right] = screen.getAllByTestId('flame-profile');
    expect([left.dataset.event, right.dataset.event]).toEqual(['on_cpu', 'off_cpu']);
    expect(within(left).getByTestId('flame-summary')).toHaveTextContent('On-CPU (samples) · 105 samples');
    expect(within(right).getByTestId('flame-summary')).toHaveTextContent(
      'Off-CPU (time blocked) · 700.00 ms · 6 nodes'
    );
    // each column is half the panel (1000 px less 16 px padding and a 12 px gap)
    const schedule = within(right)
      .getAllByTestId('flame-rect')
      .find((r) => r.dataset.label === 'schedule')!;
    expect(parseFloat(schedule.style.width)).toBe((1000 - 16 - 12) / 2 - 1);
    expect(schedule.title).toContain('total 700.00 ms (100.0%)');
    // one search for both
    fireEvent.change(screen.getByTestId('flame-search'), { target: { value: 'work_' } });
    expect(within(right).getByTestId('flame-matches')).toHaveTextContent('0 frames match "work_"');
    expect(within(left).getByTestId('flame-matches')).toHaveTextContent('2 frames match "work_" (95.2% of the total)');
    // a focus in one column leaves the other whole
    fireEvent.click(
      within(left)
        .getAllByTestId('flame-rect')
        .find((r) => r.dataset.label === 'work_a')!
    );
    expect(within(left).getByTestId('flame-unfocus')).toHaveTextContent('Focus: work_a');
    expect(within(right).queryByTestId('flame-unfocus')).toBeNull();
    // one of them alone
    fireEvent.click(screen.getByLabelText('Off-CPU (time blocked)'));
    expect(screen.getAllByTestId('flame-profile').map((x) => x.dataset.event)).toEqual(['off_cpu']);
  });

  it('switches between on-CPU samples and off-CPU time blocked', () => {
    const on = flameFrame(SHAPE_STACKS, { refId: 'A' });
    const off = flameFrame(
      [[['reader_thread', 'block_on_pipe', 'read', 'entry_SYSCALL_64', 'schedule'], 4_500_000_000]],
      {
        refId: 'B',
        unit: 'ns',
      }
    );
    render(
      <FlameGraphPanel
        {...props([on, off], {
          targets: [
            { refId: 'A', queryType: 'flamegraph', event: 'on_cpu' },
            { refId: 'B', queryType: 'flamegraph', event: 'off_cpu' },
          ],
        })}
      />
    );
    expect(screen.getByTestId('flame-summary')).toHaveTextContent('On-CPU (samples) · 105 samples');
    fireEvent.click(screen.getByLabelText('Off-CPU (time blocked)'));
    expect(screen.getByTestId('flame-summary')).toHaveTextContent('Off-CPU (time blocked) · 4.50 s · 6 nodes');
    expect(rect('schedule')!.title).toContain('total 4.50 s (100.0%)');
  });

  it("links to the slowest requests of the graph's process in the panel's range", () => {
    const p = props([flameFrame(SHAPE_STACKS)], {
      targets: [{ refId: 'A', queryType: 'flamegraph', process: ['shape'], service: 'shape-svc', pid: '$pid' }],
    });
    render(<FlameGraphPanel {...p} />);
    const href = new URL(screen.getByTestId('flame-slowest').getAttribute('href')!, 'http://grafana');
    expect(href.pathname).toBe('/a/flowlens-observability-app/profiling');
    // a variable left unfilled filters nothing
    expect(Object.fromEntries(href.searchParams)).toEqual({
      service: 'shape-svc',
      process: 'shape',
      from: String(p.data.timeRange.from.valueOf()),
      to: String(p.data.timeRange.to.valueOf()),
    });
  });

  it('says so when the answer holds no flame graph, and shows a refused query', () => {
    const { rerender } = render(<FlameGraphPanel {...props([])} />);
    expect(screen.getByTestId('flame-empty')).toBeInTheDocument();
    rerender(
      <FlameGraphPanel
        {...props([], {
          data: { state: LoadingState.Error, errors: [{ message: "event 'cpu' is not one of on_cpu, off_cpu" }] },
        })}
      />
    );
    expect(screen.getByTestId('flame-error')).toHaveTextContent("event 'cpu' is not one of on_cpu, off_cpu");
  });
});
