// Demo "frontend" service (Node): serves /api/* and calls the backend over a keep-alive pool. It
// forwards the query string (item, slow) but no header: the gateway's X-Request-ID stops here, so
// the trace beyond this hop is linked by the agent alone.
//   GET /api/products?item=N   -> backend GET /products
//   GET /api/checkout?item=N   -> backend GET /products, then POST /inventory/reserve
//   ?slow=frontend             -> waits slow_ms (default 100) after the backend answered
// Environment: BIND, PORT, BACKEND_HOST, BACKEND_PORT.
const http = require('http');
process.title = 'frontend';
const bind = process.env.BIND || '127.0.0.1';
const port = Number(process.env.PORT || 28181);
const backendHost = process.env.BACKEND_HOST || '127.0.0.1';
const backendPort = Number(process.env.BACKEND_PORT || 28182);
const pool = new http.Agent({ keepAlive: true, maxSockets: 16 });

function callBackend(method, path, cb) {
  const req = http.request({ host: backendHost, port: backendPort, method, path, agent: pool }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d) => (body += d));
    res.on('end', () => cb(null, res.statusCode, body));
  });
  req.on('error', (err) => cb(err));
  req.end();
}

function reply(res, code, body, delayMs) {
  const send = () => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(body);
  };
  delayMs > 0 ? setTimeout(send, delayMs) : send();
}

http
  .createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const qs = url.search;
    const delayMs = url.searchParams.get('slow') === 'frontend' ? Number(url.searchParams.get('slow_ms') || 100) : 0;
    if (url.pathname === '/api/products') {
      return callBackend('GET', `/products${qs}`, (err, code, body) => {
        reply(res, err ? 502 : code, err ? '{"error":"backend down"}' : body, delayMs);
      });
    }
    if (url.pathname === '/api/checkout') {
      return callBackend('GET', `/products${qs}`, (err, code) => {
        if (err || code !== 200) {
          return reply(res, err ? 502 : code, '{"error":"no such product"}', delayMs);
        }
        callBackend('POST', `/inventory/reserve${qs}`, (err2, code2, body2) => {
          reply(res, err2 ? 502 : code2, err2 ? '{"error":"backend down"}' : body2, delayMs);
        });
      });
    }
    reply(res, 404, '{"error":"no such page"}', 0);
  })
  .listen(port, bind);
