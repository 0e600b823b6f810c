// An HTTP server whose /burn handler spends argv[3] ms of CPU (default 1500) in burnCpu: its
// request log row (pid, thread, time) must lead to a flame graph where burnCpu dominates.
// Usage: node --perf-basic-prof burnServer.js PORT [MS]
'use strict';
const http = require('http');
const port = Number(process.argv[2]);
const burnMs = Number(process.argv[3] || 1500);
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
http
  .createServer((req, res) => {
    if (req.url === '/burn') {
      res.end(burnCpu(burnMs) > 0 ? 'burnt\n' : '?\n');
    } else {
      res.statusCode = 404;
      res.end();
    }
  })
  .listen(port, '127.0.0.1', () => console.log('ready'));
