/** jsdom has no canvas; @grafana/ui measures text with one (Combobox, TimeRangeInput): a fixed width per character. */
export function mockCanvasText(): void {
  HTMLCanvasElement.prototype.getContext = (() => ({
    measureText: (t: string) => ({ width: 7 * t.length }),
  })) as unknown as HTMLCanvasElement['getContext'];
}

/** jsdom has no IntersectionObserver; @grafana/ui's Combobox menu watches its scroll indicators with one. */
export function mockIntersectionObserver(): void {
  global.IntersectionObserver = class {
    observe() {}
    unobserve() {}
    disconnect() {}
  } as unknown as typeof IntersectionObserver;
}
