// A Node program of known shape for the profiling test (run with --perf-basic-prof): hotFunction
// does 3 units of work for each unit coldFunction does. Works until it has used argv[2] seconds
// of CPU (default 4; at most 40 s of wall time), prints "done", then waits for a line on stdin.
'use strict';
function hotFunction(n) {
  let s = 0;
  for (let i = 0; i < n; i++) {
    s += Math.sqrt(i) * ((i & 7) + 1);
  }
  return s;
}
function coldFunction(n) {
  let s = 0;
  for (let i = 0; i < n; i++) {
    s += Math.sqrt(i) * ((i & 7) + 1);
  }
  return s;
}
const cpuSeconds = Number(process.argv[2] || 4);
const end = Date.now() + 40_000;
const cpu = () => process.cpuUsage().user / 1e6;
let sink = 0;
console.log('ready');
while (cpu() < cpuSeconds && Date.now() < end) {
  sink += hotFunction(300000);
  sink += coldFunction(100000);
}
console.log(sink > 0 ? 'done' : 'done?');
process.stdin.once('data', () => process.exit(0));
