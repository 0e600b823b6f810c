// Kernel function names from /proc/kallsyms. Kernel addresses are carried as their low 48 bits
// (kernel text lives at 0xffff8000_00000000 and up, so the low 48 bits are unique and fit a JS
// number exactly); the decoder hands kernel frames over in the same form.
import { readFileSync } from 'node:fs';
import { lastAtOrBelow } from './sortedSearch';

export const KERNEL_ADDR_BITS = 48;

export class KernelSymbols {
  private addrs = new Float64Array(0);
  private names: string[] = [];
  /** false when kallsyms shows zero addresses (kptr_restrict) or could not be read */
  usable = false;
  loadError = '';

  constructor(private readonly path = '/proc/kallsyms') {}

  load(): void {
    let text: string;
    try {
      text = readFileSync(this.path, 'latin1');
    } catch (err) {
      this.loadError = `cannot read ${this.path}: ${(err as Error).message}`;
      this.usable = false;
      return;
    }
    const addrs: number[] = [];
    const names: string[] = [];
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf('\n', start);
      if (end < 0) {
        end = text.length;
      }
      // "ffffffff81000000 T _stext [module]"
      const sp1 = text.indexOf(' ', start);
      if (sp1 > start && sp1 + 3 < end) {
        const type = text.charCodeAt(sp1 + 1) | 0x20; // lower case
        if (type === 0x74 /* t */ || type === 0x77 /* w */) {
          const nameStart = sp1 + 3;
          // module symbols end in "\t[module]"; search this line only (an unbounded indexOf would
          // scan to the module section for every line)
          const tab = text.slice(nameStart, end).indexOf('\t');
          const nameEnd = tab < 0 ? end : nameStart + tab;
          const hex = text.slice(Math.max(start, sp1 - 12), sp1);
          const addr = parseInt(hex, 16);
          if (addr > 0) {
            addrs.push(addr);
            names.push(text.slice(nameStart, nameEnd));
          }
        }
      }
      start = end + 1;
    }
    const order = Array.from(addrs.keys()).sort((a, b) => addrs[a] - addrs[b]);
    this.addrs = Float64Array.from(order.map((i) => addrs[i]));
    this.names = order.map((i) => names[i]);
    this.usable = this.addrs.length > 0;
    this.loadError = this.usable ? '' : `${this.path} shows no addresses (kernel.kptr_restrict?)`;
  }

  get size(): number {
    return this.addrs.length;
  }

  /** Name of the kernel function containing the low-48-bit address, or undefined. */
  lookup(addr48: number): string | undefined {
    const a = this.addrs;
    const found = lastAtOrBelow(a, addr48);
    // past the last symbol (or far from any) is not a known function
    if (found < 0 || (found === a.length - 1 && addr48 - a[found] > 1 << 20)) {
      return undefined;
    }
    return this.names[found];
  }
}
