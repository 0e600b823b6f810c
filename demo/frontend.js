// Demo "frontend" service (Node): serves /api/* and calls the backend over a keep-alive pool. It
// forwards the query string (item, slow) but no header: the gateway's X-Request-ID stops here, so
// the trace beyond this hop is linked by the agent alone.
//   GET /api/products?item=N   -> backend GET /products
//   GET /api/checkout?item=N   -> backend GET /products, then POST /inventory/reserve
//   ?slow=frontend             -> waits slow_ms (default 100) after the backend answered
//   ?burn=MS                   -> burnCpu: MS of CPU on the event loop before calling the backend
//   ?resolve=NAME              -> resolves NAME (A record) at DNS_SERVER first, as service discovery
// Environment: BIND, PORT, BACKEND_HOST, BACKEND_PORT, DNS_SERVER (address[:port], for ?resolve).
const http = require('http');
const dns = require('dns');
process.title = 'frontend';
const bind = process.env.BIND || '127.0.0.1';
const port = Number(process.env.PORT || 28181);
const backendHost = process.env.BACKEND_HOST || '127.0.0.1';
const backendPort = Number(process.env.BACKEND_PORT || 28182);
const pool = new http.Agent({ keepAlive: true, maxSockets: 16 });
const resolver = new dns.Resolver({ timeout: 2000, tries: 1 });
if (process.env.DNS_SERVER) {
  resolver.setServers([process.env.DNS_SERVER]);
}

// A CPU-bound handler step (the triage test bed's CPU fault): arithmetic until ms have passed.
function burnCpu(ms) {
  const end = process.hrtime.bigint() + BigInt(Math.round(ms * 1e6));
  let x = 0;
  while (process.hrtime.bigint() < end) {
    for (let i = 0; i < 10000; i++) {
      x = (x * 31 + i) % 1000003;
    }
  }
  return x;
}

// Runs the request's optional steps (burn, resolve), then next.
function before(url, next) {
  const burn = Number(url.searchParams.get('burn') || 0);
  if (burn > 0) {
    burnCpu(Math.min(burn, 1000));
  }
  const name = url.searchParams.get('resolve');
  if (!name) {
    return next();
  }
  resolver.resolve4(name, () => next());
}

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
      return before(url, () =>
        callBackend('GET', `/products${qs}`, (err, code, body) => {
          reply(res, err ? 502 : code, err ? '{"error":"backend down"}' : body, delayMs);
        })
      );
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
