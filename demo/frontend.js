// Demo "frontend" service (Node): serves /api/* and calls the backend for each request.
const http = require('http');
process.title = 'frontend';
const port = Number(process.env.PORT || 28181);
const backend = Number(process.env.BACKEND_PORT || 28182);
const pool = new http.Agent({ keepAlive: true, maxSockets: 16 });

function callBackend(path, cb) {
  http
    .get({ host: '127.0.0.1', port: backend, path, agent: pool }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => cb(null, res.statusCode, body));
    })
    .on('error', (err) => cb(err));
}

http
  .createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/api/products') {
      return callBackend('/products', (err, code, body) => {
        res.writeHead(err ? 502 : code, { 'content-type': 'application/json' });
        res.end(err ? '{"error":"backend down"}' : body);
      });
    }
    if (url.pathname === '/api/checkout') {
      return callBackend('/inventory/reserve', (err, code) => {
        res.writeHead(err ? 502 : code === 200 ? 200 : 500);
        res.end(code === 200 ? 'ordered' : 'out of stock');
      });
    }
    res.writeHead(404);
    res.end('no such page');
  })
  .listen(port, '127.0.0.1');
