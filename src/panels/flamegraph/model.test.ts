import {
  diffChange,
  focusTree,
  frameKinds,
  layoutTree,
  matchedShare,
  sandwich,
  searchNodes,
  shortLabel,
  topFunctions,
  treeFromFrame,
  type FlameTree,
} from './model';
import { SHAPE_STACKS, flameFrame, type StackSpec } from './testFrames';

const tree = (stacks: StackSpec[]): FlameTree => treeFromFrame(flameFrame(stacks))!;
const labels = (t: FlameTree) => t.nodes.map((n) => `${n.level}:${n.label}:${n.value}/${n.self}`);

describe('flame graph transforms', () => {
  it('reads the frame into a tree: parent = the last row one level up', () => {
    const t = tree(SHAPE_STACKS);
    expect(t.nodes).toHaveLength(18);
    expect(t.diff).toBe(false);
    expect(t.unit).toBe('short');
    const main = t.nodes.findIndex((n) => n.label === 'main');
    expect(t.nodes[main].children.map((c) => t.nodes[c].label)).toEqual([
      '/usr/lib/x86_64-linux-gnu/libfoo.so+0x1a2b',
      'work_a',
      'work_b',
    ]);
    expect(labels(t).slice(0, 5)).toEqual([
      '0:total:105/0',
      '1:_start:103/0',
      '2:__libc_start_main:103/0',
      '3:main:103/0',
      '4:/usr/lib/x86_64-linux-gnu/libfoo.so+0x1a2b:3/3',
    ]);
  });

  it('refuses rows that are not a nested set', () => {
    const f = flameFrame([[['a'], 1]]);
    f.fields[0].values[1] = 3; // a row two levels below its predecessor
    expect(treeFromFrame(f)).toBeUndefined();
  });

  it('tells user, kernel and unsymbolized frames apart', () => {
    const t = tree(SHAPE_STACKS);
    const kinds = frameKinds(t);
    const kind = (label: string) => kinds[t.nodes.findIndex((n) => n.label === label)];
    expect(['main', 'work_a', 'work_b', 'reader_thread', 'block_on_pipe', 'read'].map(kind)).toEqual(
      Array(6).fill('user')
    );
    expect(
      [
        'asm_sysvec_apic_timer_interrupt',
        'sysvec_apic_timer_interrupt',
        'entry_SYSCALL_64',
        'do_syscall_64',
        'ksys_read',
        'schedule',
      ].map(kind)
    ).toEqual(Array(6).fill('kernel'));
    expect(kind('/usr/lib/x86_64-linux-gnu/libfoo.so+0x1a2b')).toBe('unsymbolized');
    expect(shortLabel('/usr/lib/x86_64-linux-gnu/libfoo.so+0x1a2b')).toBe('libfoo.so+0x1a2b');
    expect(shortLabel('[unknown] 0x7f00')).toBe('[unknown] 0x7f00');
  });

  it('search finds every frame holding the text, in any case, and their share of the total', () => {
    const t = tree(SHAPE_STACKS);
    const m = searchNodes(t, 'WORK_');
    expect(Array.from(m, (i) => t.nodes[i].label)).toEqual(['work_a', 'work_b']);
    expect(matchedShare(t, m)).toBeCloseTo(100 / 105, 10);
    expect(searchNodes(t, '  ').size).toBe(0);
    // a match under a match is not counted twice
    const nested = tree([
      [['f', 'x', 'f'], 10],
      [['g'], 10],
    ]);
    expect(matchedShare(nested, searchNodes(nested, 'f'))).toBe(0.5);
  });

  it('focus keeps the path above the frame and only its subtree below, at full width', () => {
    const t = tree(SHAPE_STACKS);
    const workB = t.nodes.findIndex((n) => n.label === 'work_b');
    const { tree: f, focused } = focusTree(t, workB);
    expect(labels(f)).toEqual([
      '0:total:30/0',
      '1:_start:30/0',
      '2:__libc_start_main:30/0',
      '3:main:30/0',
      '4:work_b:30/25',
      '5:asm_sysvec_apic_timer_interrupt:5/0',
      '6:sysvec_apic_timer_interrupt:5/5',
    ]);
    expect(focused).toBe(4);
    const rects = layoutTree(f);
    expect(rects.map((r) => [r.index, r.x, r.width])).toEqual([
      [0, 0, 1],
      [1, 0, 1],
      [2, 0, 1],
      [3, 0, 1],
      [4, 0, 1],
      [5, 0, 5 / 30],
      [6, 0, 5 / 30],
    ]);
  });

  it('lays children side by side and leaves out frames narrower than the minimum', () => {
    const t = tree(SHAPE_STACKS);
    const rects = layoutTree(t, 0.02); // the 2-sample reader path and the 3-sample module frame are narrower
    const at = (label: string) => rects.find((r) => t.nodes[r.index].label === label);
    expect(at('work_a')).toEqual({ index: 5, level: 4, x: 3 / 105, width: 70 / 105 });
    expect(at('work_b')?.x).toBeCloseTo(73 / 105, 12);
    expect(at('clone3')).toBeUndefined();
    expect(at('schedule')).toBeUndefined();
    expect(at('/usr/lib/x86_64-linux-gnu/libfoo.so+0x1a2b')).toEqual({ index: 4, level: 4, x: 0, width: 3 / 105 });
  });

  it("sandwich: a function's callees merged, its callers upside down, a recursive call counted once", () => {
    const t = tree([
      [['main', 'f', 'g', 'f', 'h'], 10],
      [['main', 'k', 'f'], 5],
      [['other', 'g'], 4],
    ]);
    const s = sandwich(t, 'f')!;
    expect(labels(s.callees)).toEqual(['0:f:15/5', '1:g:10/0', '2:f:10/0', '3:h:10/10']);
    expect(labels(s.callers)).toEqual([
      '0:f:15/0',
      '1:k:5/0',
      '2:main:5/0',
      '3:total:5/5',
      '1:main:10/0',
      '2:total:10/10',
    ]);
    expect(sandwich(t, 'nothing')).toBeUndefined();
  });

  it('top functions: self and total per function, a recursive call not counted twice', () => {
    const t = tree([
      [['main', 'f', 'g', 'f', 'h'], 10],
      [['main', 'k', 'f'], 5],
      [['other', 'g'], 4],
    ]);
    expect(topFunctions(t).map((r) => `${r.label} ${r.self}/${r.total}`)).toEqual([
      'h 10/10',
      'f 5/15',
      'g 4/14',
      'main 0/15',
      'k 0/5',
      'other 0/4',
    ]);
  });

  it("diff: each frame's change of share between the baseline and the comparison", () => {
    const t = tree([
      [['main', 'work_a'], 70, 40],
      [['main', 'work_b'], 30, 50],
      [['main', 'work_c'], 0, 10],
    ]);
    expect(t.diff).toBe(true);
    const change = (label: string) =>
      diffChange(
        t,
        t.nodes.findIndex((n) => n.label === label)
      );
    expect(change('main')).toBe(0);
    expect(change('work_a')).toBeCloseTo(((0.4 - 0.7) / 0.7) * 100, 10);
    expect(change('work_b')).toBeCloseTo(((0.5 - 0.3) / 0.3) * 100, 10);
    expect(change('work_c')).toBe(Infinity);
    // the width of a diff frame is both profiles
    expect(layoutTree(t).map((r) => r.width)).toEqual([1, 1, 110 / 200, 80 / 200, 10 / 200]);
    // a focused diff keeps both profiles
    expect(labels(focusTree(t, 2).tree)).toEqual(['0:total:70/0', '1:main:70/0', '2:work_a:70/70']);
  });
});
