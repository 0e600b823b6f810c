/** jsdom has no canvas; @grafana/ui measures text with one (Combobox, TimeRangeInput): a fixed width per character. */
export function mockCanvasText(): void {
  HTMLCanvasElement.prototype.getContext = (() => ({
    measureText: (t: string) => ({ width: 7 * t.length }),
  })) as unknown as HTMLCanvasElement['getContext'];
}
