// Demo load generator: a steady mix of requests through the gateway.
const http = require('http');
process.title = 'loadgen';
const port = Number(process.env.GATEWAY_PORT || 28180);
const rate = Number(process.env.RATE || 20); // requests per second
const paths = ['/api/products', '/api/products', '/api/products', '/api/checkout', '/api/missing'];
let i = 0;
setInterval(() => {
  const path = paths[i++ % paths.length];
  http.get({ host: '127.0.0.1', port, path }, (res) => res.resume()).on('error', () => undefined);
}, 1000 / rate);
