// jsdom lacks globals that React 19 (react-dom/server.browser, pulled in by @grafana/ui) expects at import time.
// A timer-based MessageChannel: Node's real one (worker_threads) keeps jest's event loop alive.
const { TextEncoder, TextDecoder } = require('util');

class TimerMessagePort {
  constructor() {
    this.onmessage = null;
    this.other = null;
  }
  postMessage(data) {
    const target = this.other;
    setTimeout(() => target.onmessage && target.onmessage({ data }), 0);
  }
  start() {}
  close() {}
  addEventListener(type, fn) {
    if (type === 'message') {
      this.onmessage = fn;
    }
  }
  removeEventListener() {}
}

class TimerMessageChannel {
  constructor() {
    this.port1 = new TimerMessagePort();
    this.port2 = new TimerMessagePort();
    this.port1.other = this.port2;
    this.port2.other = this.port1;
  }
}

Object.assign(global, { TextEncoder, TextDecoder });
if (typeof global.MessageChannel === 'undefined') {
  global.MessageChannel = TimerMessageChannel;
}
