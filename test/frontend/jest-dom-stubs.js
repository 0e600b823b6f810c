// Runs after create-plugin's jest setup (which stubs the canvas with a getContext returning nothing).
// jsdom has no canvas nor IntersectionObserver: @grafana/ui measures text with a canvas (Combobox sizes its
// menu, TimeRangeInput) and watches its menus' scroll edges. A fixed width per character; no intersections.
if (typeof HTMLCanvasElement !== 'undefined') {
  HTMLCanvasElement.prototype.getContext = () => ({ measureText: (t) => ({ width: 7 * t.length }) });
}
if (typeof global.IntersectionObserver === 'undefined') {
  global.IntersectionObserver = class {
    observe() {}
    unobserve() {}
    disconnect() {}
    takeRecords() {
      return [];
    }
  };
}
