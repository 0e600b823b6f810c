// An HTTP server whose /burn handler spends argv[3] ms of CPU (default 1500) in burnCpu: its
// request log row (pid, thread, time) must lead to a flame graph where burnCpu dominates.
// /wait spends WAIT_CPU_MS of CPU in burnCpu, then blocks its thread WAIT_BLOCK_MS in blockThread (Atomics.wait:
// the thread sleeps in a futex, off-CPU), so its on-CPU graph shows the CPU and its off-CPU graph the block.
// /fast answers at once (the requests that are not slow).
// Usage: node --perf-basic-prof burnServer.js PORT [MS]
'use strict';
const http = require('http');
const port = Number(process.argv[2]);
const burnMs = Number(process.argv[3] || 1500);
const WAIT_CPU_MS = 100;
const WAIT_BLOCK_MS = 700;
function burnCpu(ms) {
  const until = process.cpuUsage().user / 1000 + ms;
  let s = 0;
  while (process.cpuUsage().user / 1000 < until) {
    for (let i = 0; i < 100000; i++) {
      s += Math.sqrt(i);
    }
  }
  return s;
}
const cell = new Int32Array(new SharedArrayBuffer(4));
function blockThread(ms) {
  return Atomics.wait(cell, 0, 0, ms);
}
http
  .createServer((req, res) => {
    if (req.url === '/burn') {
      res.end(burnCpu(burnMs) > 0 ? 'burnt\n' : '?\n');
    } else if (req.url === '/wait') {
      const burnt = burnCpu(WAIT_CPU_MS);
      res.end(`${burnt > 0 ? 'burnt' : '?'}, ${blockThread(WAIT_BLOCK_MS)}\n`);
    } else if (req.url === '/fast') {
      res.end('fast\n');
    } else {
      res.statusCode = 404;
      res.end();
    }
  })
  .listen(port, '127.0.0.1', () => {
    // called often enough to be compiled (--perf-basic-prof names compiled JS only; an interpreted function is
    // the interpreter's entry)
    for (let i = 0; i < 20000; i++) {
      blockThread(0);
    }
    console.log('ready');
    warmUp(WARM_UP_BLOCKS);
  });
// The agent learns how to unwind through a function without a frame pointer (libc's futex wait, V8's C++) the first
// time it sees the address, one level per drain: a few short blocks on the same path, a drain interval apart, let a
// later block's stack reach blockThread and the JS that called it.
const WARM_UP_BLOCKS = 8;
function warmUp(n) {
  if (n > 0) {
    blockThread(5);
    setTimeout(() => warmUp(n - 1), 1200).unref();
  }
}
