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
