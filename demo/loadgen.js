// Demo load generator: requests through the gateway over keep-alive connections.
// Steady mode (default): RATE requests per second, a mix of products, checkouts and a missing page,
// until killed. Burst mode (CLIENTS set): CLIENTS clients, each on its own keep-alive connection,
// send REQUESTS requests back to back with unique items from ITEM_BASE, then one JSON line
// {"sent","byStatus","requests":[{"item","path","status","requestId","ms"}]} is printed.
// Environment: GATEWAY_HOST, GATEWAY_PORT, RATE | CLIENTS, REQUESTS, ITEM_BASE, PATHS (comma list).
const http = require('http');
process.title = 'loadgen';
const host = process.env.GATEWAY_HOST || '127.0.0.1';
const port = Number(process.env.GATEWAY_PORT || 28180);

function get(agent, path) {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve) => {
    http
      .get({ host, port, path, agent }, (res) => {
        res.resume();
        res.on('end', () =>
          resolve({
            status: res.statusCode,
            requestId: res.headers['x-request-id'] || '',
            ms: Number(process.hrtime.bigint() - t0) / 1e6,
          })
        );
      })
      .on('error', (err) =>
        resolve({ status: 0, error: err.message, requestId: '', ms: Number(process.hrtime.bigint() - t0) / 1e6 })
      );
  });
}

async function burst() {
  const clients = Number(process.env.CLIENTS);
  const perClient = Number(process.env.REQUESTS || 10);
  const base = Number(process.env.ITEM_BASE || 1);
  const paths = (process.env.PATHS || '/api/products,/api/checkout').split(',');
  const requests = [];
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      for (let i = 0; i < perClient; i++) {
        const item = base + c * perClient + i;
        const path = `${paths[(c + i) % paths.length]}?item=${item}`;
        requests.push({ item, path, ...(await get(agent, path)) });
      }
      agent.destroy();
    })
  );
  const byStatus = {};
  for (const r of requests) {
    byStatus[r.status] = (byStatus[r.status] || 0) + 1;
  }
  process.stdout.write(`${JSON.stringify({ sent: requests.length, byStatus, requests })}\n`);
}

function steady() {
  const rate = Number(process.env.RATE || 20);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const paths = ['/api/products', '/api/products', '/api/checkout', '/api/products', '/api/missing', '/api/missing'];
  let i = 0;
  setInterval(() => {
    const path = `${paths[i++ % paths.length]}?item=${1 + Math.floor(Math.random() * 1000)}`;
    void get(agent, path);
  }, 1000 / rate);
}

if (process.env.CLIENTS) {
  burst();
} else {
  steady();
}
