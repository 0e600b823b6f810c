import { FieldType, createDataFrame, type DataFrame } from '@grafana/data';

/** A stack (root first, without the `total` root) and its value; a diff gives the baseline and comparison values. */
export type StackSpec = [string[], number] | [string[], number, number];

/**
 * A flame graph frame as the backend builds it (pkg/plugin/flamegraph.go): the stacks merged into a tree under
 * `total`, children by label, rows depth-first with level, value, self, label (+ valueRight, selfRight).
 */
export function flameFrame(stacks: StackSpec[], o: { unit?: string; refId?: string } = {}): DataFrame {
  interface N {
    label: string;
    v: number;
    s: number;
    vr: number;
    sr: number;
    kids: Map<string, N>;
  }
  const mk = (label: string): N => ({ label, v: 0, s: 0, vr: 0, sr: 0, kids: new Map() });
  const root = mk('total');
  const diff = stacks.some((s) => s.length === 3);
  for (const [frames, left, right = 0] of stacks) {
    let n = root;
    n.v += left;
    n.vr += right;
    for (const f of frames) {
      let c = n.kids.get(f);
      if (!c) {
        c = mk(f);
        n.kids.set(f, c);
      }
      c.v += left;
      c.vr += right;
      n = c;
    }
    n.s += left;
    n.sr += right;
  }
  const level: number[] = [];
  const value: number[] = [];
  const self: number[] = [];
  const label: string[] = [];
  const valueRight: number[] = [];
  const selfRight: number[] = [];
  const walk = (n: N, l: number) => {
    level.push(l);
    value.push(n.v);
    self.push(n.s);
    label.push(n.label);
    valueRight.push(n.vr);
    selfRight.push(n.sr);
    for (const k of Array.from(n.kids.keys()).sort()) {
      walk(n.kids.get(k)!, l + 1);
    }
  };
  walk(root, 0);
  const unit = o.unit ?? 'short';
  const fields = [
    { name: 'level', type: FieldType.number, values: level },
    { name: 'value', type: FieldType.number, values: value, config: { unit } },
    { name: 'self', type: FieldType.number, values: self, config: { unit } },
    { name: 'label', type: FieldType.string, values: label },
  ];
  if (diff) {
    fields.push(
      { name: 'valueRight', type: FieldType.number, values: valueRight, config: { unit } },
      { name: 'selfRight', type: FieldType.number, values: selfRight, config: { unit } }
    );
  }
  return createDataFrame({
    name: 'flamegraph',
    refId: o.refId ?? 'A',
    meta: { preferredVisualisationType: 'flamegraph' },
    fields,
  });
}

/** The known-shape program's profile (test/e2e/profiling/shape.c): work_a 70%, work_b 30%, a kernel path, a raw frame. */
export const SHAPE_STACKS: StackSpec[] = [
  [['_start', '__libc_start_main', 'main', 'work_a'], 70],
  [['_start', '__libc_start_main', 'main', 'work_b'], 25],
  [
    ['_start', '__libc_start_main', 'main', 'work_b', 'asm_sysvec_apic_timer_interrupt', 'sysvec_apic_timer_interrupt'],
    5,
  ],
  [['_start', '__libc_start_main', 'main', '/usr/lib/x86_64-linux-gnu/libfoo.so+0x1a2b'], 3],
  [
    [
      'clone3',
      'start_thread',
      'reader_thread',
      'block_on_pipe',
      'read',
      'entry_SYSCALL_64',
      'do_syscall_64',
      'ksys_read',
      'schedule',
    ],
    2,
  ],
];
