// Client programs the network scenarios run inside a test-bed host (tcpFlows.e2e, networkProfile.e2e and the
// captures the datasource is tested on, netcapture/recordNetCapture.ts): one source for each behaviour.

/** A reader that stops: a 4 KiB receive buffer, GET /big, 1 s without reading (its window closes), then it
 * reads to the end and prints the body's length. argv: server address, port. */
export const SLOW_READER = `
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect((sys.argv[1], int(sys.argv[2])))
s.sendall(b'GET /big HTTP/1.0\\r\\n\\r\\n')
time.sleep(1.0)
data = b''
while True:
    b = s.recv(65536)
    if not b: break
    data += b
print(len(data.split(b'\\r\\n\\r\\n', 1)[1]))
`;

/** Node source of a client that makes three requests (`path` + `?n=0..2`) on one keep-alive connection to
 * argv[1]:`port`, pausing `waitMs` between them (the client's think time). */
export function keepAliveClient(port: number, waitMs: number, path: string): string {
  return `
const http = require('http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = (path) => new Promise((resolve, reject) =>
  http.get({ host: process.argv[1], port: ${port}, path, agent }, (r) => { r.resume(); r.on('end', resolve); }).on('error', reject));
(async () => {
  for (let i = 0; i < 3; i++) {
    if (i) await new Promise((r) => setTimeout(r, ${waitMs}));
    await get(${JSON.stringify(path)} + '?n=' + i);
  }
  agent.destroy();
})();
`;
}

/** Node source of an HTTP server answering every request with 200 "ok" on argv[1]:`port` (keep-alive). */
export function okServer(port: number): string {
  return `
require('http').createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('ok\\n'); })
  .listen(${port}, process.argv[1]);
`;
}

/** A client that retries until its request is served: it connects to argv[1]:argv[2], sends
 * GET argv[3] (HTTP/1.0) and reads the reply; a refused connect or a reset (of the connect or of the
 * request) makes it try again on a new connection after argv[4] ms. Prints the failed attempts and the
 * status code. */
export const RETRYING_CLIENT = `
import socket, sys, time
host, port, path, pause = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]) / 1000
fails = 0
while fails < 50:
    s = socket.socket()
    try:
        s.connect((host, port))
        s.sendall(('GET %s HTTP/1.0\\r\\nHost: %s\\r\\n\\r\\n' % (path, host)).encode())
        data = b''
        while True:
            b = s.recv(65536)
            if not b: break
            data += b
        if not data: raise ConnectionResetError()
        print(fails, data.split(b' ')[1].decode())
        sys.exit(0)
    except (ConnectionRefusedError, ConnectionResetError):
        fails += 1
        s.close()
        time.sleep(pause)
sys.exit(2)
`;
