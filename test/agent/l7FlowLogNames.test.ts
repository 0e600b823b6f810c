// The row builder names an end whose pid is unknown from that end's own address and port: at a NIC
// (or a process whose peer is off the host) the unknown end may be the local one or the remote one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildL7Row, EndpointNamer } from '../../src/agent/requestlog/l7FlowLog';
import { Direction } from '../../src/agent/capture/socketEvent';
import type { Connection } from '../../src/agent/conntrack/connection';
import type { CompletedPair, MessageEnd } from '../../src/agent/protocols/messageStream';

const C = { ip: '10.9.0.10', port: 41000 };
const S = { ip: '10.9.0.11', port: 8080 };

const namer: EndpointNamer = {
  comm: (pid) => (pid === 11 ? 'curl' : pid === 22 ? 'nginx' : ''),
  service: (pid) => (pid === 11 ? 'curl' : pid === 22 ? 'web' : ''),
  // like ProcessTable.remoteService: a configured port names a server, else the address
  remoteService: (ip, port, isServer) => (isServer && port === S.port ? 'web-by-port' : ip),
  peerPid: () => 0,
  toWallUs: (ns) => ns / 1000,
};

function end(type: 'request' | 'response', ns: number): MessageEnd {
  return {
    msg: { type, requestType: 'GET', resource: '/', code: 200, status: 'ok' },
    startNs: ns,
    endNs: ns,
    length: 10,
    tid: 0,
    tcpSeq: 1,
    syscallTraceId: 0,
    capSeq: 0,
  } as MessageEnd;
}

function row(localIsClient: boolean, localPid: number) {
  const [local, peer] = localIsClient ? [C, S] : [S, C];
  const c = {
    tgid: localPid,
    localIp: local.ip,
    localPort: local.port,
    peerIp: peer.ip,
    peerPort: peer.port,
    l4: 'TCP',
    flowId: 1,
    stream: { requestDirection: localIsClient ? Direction.Egress : Direction.Ingress },
  } as unknown as Connection;
  const pair: CompletedPair = { request: end('request', 1e9), response: end('response', 2e9) };
  const r = buildL7Row(c, pair, 'HTTP', 'h1', 1, namer);
  return [r.client_ip, r.client_service, r.server_ip, r.server_service];
}

test('an end without a pid is named from its own address, whichever side is local', () => {
  // client NIC, pids unknown: the client is the local end
  assert.deepEqual(row(true, 0), [C.ip, C.ip, S.ip, 'web-by-port']);
  // server NIC, pids unknown: the server is the local end
  assert.deepEqual(row(false, 0), [C.ip, C.ip, S.ip, 'web-by-port']);
  // process views: the known local end by its process, the remote one by its address
  assert.deepEqual(row(true, 11), [C.ip, 'curl', S.ip, 'web-by-port']);
  assert.deepEqual(row(false, 22), [C.ip, C.ip, S.ip, 'web']);
});
