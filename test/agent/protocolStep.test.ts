// The one protocol step behind both capture paths (requestlog/protocolStep.ts), driven through the
// syscall path (Pipeline) and the packet path (PacketFlows): a parser that throws costs only its own
// connection, which is counted and never parsed again, while other connections are logged exactly;
// and every column whose text comes from the payload is redacted at every observation point, with
// the user's redactPatterns too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Direction, EventKind, SocketEvent } from '../../src/agent/capture/socketEvent';
import { Pipeline } from '../../src/agent/pipeline';
import { decodePacket, TCP_ACK, TCP_PSH, TCP_SYN } from '../../src/agent/network/packets/packetDecoder';
import { PacketFlows } from '../../src/agent/network/packets/packetFlows';
import { Http1Parser } from '../../src/agent/protocols/http1/http1Parser';
import type { ParsedMessage, ProtocolParser } from '../../src/agent/protocols/types';
import type { L7FlowLogRow } from '../../src/agent/requestlog/l7FlowLog';
import { tcpPacket } from './network/packetFixtures';

/** HTTP/1, except that a segment containing BOOM makes parse() throw, and one containing INFERBOOM makes infer() throw. */
class ThrowingHttp1 implements ProtocolParser {
  readonly protocol = 'HTTP';
  readonly joinsShortHeads = true;
  private readonly real = new Http1Parser();
  infer(segment: Buffer): boolean {
    if (segment.includes('INFERBOOM')) {
      throw new RangeError('infer blew up');
    }
    return this.real.infer(segment);
  }
  parse(segment: Buffer, retLen: number, request: ParsedMessage | undefined): ParsedMessage | ParsedMessage[] | null {
    if (segment.includes('BOOM')) {
      JSON.parse(`{"password=hunter2": ${segment.toString('latin1')}`); // throws, quoting the payload in its message
    }
    return this.real.parse(segment, retLen, request);
  }
}

const request = (path: string) => `GET ${path} HTTP/1.1\r\nHost: web\r\n\r\n`;
const RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

function dataEvent(sockId: number, localPort: number, direction: Direction, text: string, tsNs: number): SocketEvent {
  return {
    kind: EventKind.Data,
    tsNs,
    sockId,
    tgid: 100 + sockId,
    tid: 100 + sockId,
    fd: 3,
    direction,
    syscall: 1,
    retLen: Buffer.byteLength(text, 'latin1'),
    localIp: '10.0.0.1',
    localPort,
    peerIp: '10.0.0.2',
    peerPort: 8080,
    l4: 'TCP',
    tcpSeq: 0,
    tcpState: 0,
    syscallTraceId: 0,
    payload: Buffer.from(text, 'latin1'),
    comm: '',
  };
}

function pipeline(parsers?: ProtocolParser[], redactPatterns?: string[]) {
  const rows: L7FlowLogRow[] = [];
  const p = new Pipeline({
    host: 'h',
    services: [],
    requestTimeoutMs: 30000,
    redactPatterns,
    parsers,
    toWallUs: (ns) => 1_700_000_000_000_000 + ns / 1000,
    sink: { l7: (r) => rows.push(...r), appMetrics: () => undefined },
    procRoot: '/nonexistent',
  });
  return { p, rows };
}

test('syscall path: a parser that throws on one connection marks it unparseable; the other connections are logged exactly', () => {
  const { p, rows } = pipeline([new ThrowingHttp1()]);
  let ts = 1e9;
  // three connections interleaved: 1 throws at its third request, 2 is clean, 3 throws in inference
  for (let i = 0; i < 6; i++) {
    for (const sock of [1, 2, 3]) {
      const path =
        sock === 1 && i === 2 ? `/a/${i}?BOOM` : sock === 3 ? `/c/${i}/INFERBOOM` : `/${sock === 1 ? 'a' : 'b'}/${i}`;
      p.handle(dataEvent(sock, 40000 + sock, Direction.Egress, request(path), (ts += 1000)));
      p.handle(dataEvent(sock, 40000 + sock, Direction.Ingress, RESPONSE, (ts += 1000)));
    }
  }
  p.sweep(ts + 100e9, 0);
  p.finish();
  const by = (prefix: string) =>
    rows.filter((r) => r.request_resource.startsWith(prefix)).map((r) => `${r.request_resource} ${r.response_code}`);
  assert.deepEqual(by('/b/'), ['/b/0 200', '/b/1 200', '/b/2 200', '/b/3 200', '/b/4 200', '/b/5 200']);
  assert.deepEqual(by('/a/'), ['/a/0 200', '/a/1 200'], 'connection 1: the requests before the throw, nothing after');
  assert.deepEqual(by('/c/'), []);
  assert.equal(rows.length, 8);
  assert.equal(p.counters.unparseableConnections, 2);
  assert.equal(p.counters.requestLogs, 8);
  // for the status line: what threw and where, not the message (JSON.parse quoted the payload in it)
  assert.match(p.step.lastFailure, /^HTTP: SyntaxError at JSON\.parse /);
  assert.doesNotMatch(p.step.lastFailure, /hunter2|GET/);
});

test('packet path: a parser that throws on one flow marks it unparseable; the other flow is logged exactly', () => {
  const l7: L7FlowLogRow[] = [];
  const T0 = 1_700_000_000_000_000;
  const flows = new PacketFlows({
    host: 'h',
    parsers: [new ThrowingHttp1()],
    iface: () => ({ netns: '', ifname: 'eth0', localAddrs: new Set(['10.0.0.1']) }),
    baseUs: T0,
    sink: { timeline: () => undefined, l7: (r) => l7.push(...r) },
    directory: { pidOf: () => 0, comm: () => '', service: () => '', remoteService: () => '' },
  });
  const seq: Record<string, number> = {};
  let t = T0;
  const send = (cport: number, toServer: boolean, flags: number, payload = '') => {
    const [src, dst, sport, dport] = toServer
      ? ['10.0.0.1', '10.0.0.2', cport, 8080]
      : ['10.0.0.2', '10.0.0.1', 8080, cport];
    const k = `${cport}${toServer}`;
    seq[k] ??= toServer ? 1000 : 9000;
    flows.onPacket(
      decodePacket(tcpPacket({ src, dst, sport, dport, seq: seq[k], flags, payload }), 1, (t += 100), toServer, 0)!
    );
    seq[k] += payload.length + (flags & TCP_SYN ? 1 : 0);
  };
  for (const cport of [41000, 42000]) {
    send(cport, true, TCP_SYN);
    send(cport, false, TCP_SYN | TCP_ACK);
  }
  for (let i = 0; i < 5; i++) {
    for (const cport of [41000, 42000]) {
      const path = cport === 41000 && i === 1 ? `/a/${i}?BOOM` : `/${cport === 41000 ? 'a' : 'b'}/${i}`;
      send(cport, true, TCP_ACK | TCP_PSH, request(path));
      send(cport, false, TCP_ACK | TCP_PSH, RESPONSE);
    }
  }
  flows.finish();
  const by = (prefix: string) =>
    l7
      .filter((r) => r.request_resource.startsWith(prefix))
      .map((r) => `${r.observation_point} ${r.request_resource} ${r.response_code}`);
  assert.deepEqual(by('/b/'), [
    'client_nic /b/0 200',
    'client_nic /b/1 200',
    'client_nic /b/2 200',
    'client_nic /b/3 200',
    'client_nic /b/4 200',
  ]);
  assert.deepEqual(by('/a/'), ['client_nic /a/0 200']);
  assert.equal(flows.counters.unparseableConnections, 1);
  assert.equal(flows.counters.nicRequestLogs, 6);
  assert.match(flows.lastParserFailure, /^HTTP: SyntaxError at /);
});

/** A protocol whose every text field carries a secret: what a hostile or careless payload can put in a row. */
class SecretCarrier implements ProtocolParser {
  readonly protocol = 'SECRETS';
  infer(segment: Buffer): boolean {
    return segment.toString('latin1').startsWith('REQ') || segment.toString('latin1').startsWith('RES');
  }
  parse(segment: Buffer): ParsedMessage {
    const s = (field: string) => `${field} password=hunter2 token=abc123 card-4111-1111-1111-1111`;
    if (segment.toString('latin1').startsWith('REQ')) {
      return {
        type: 'request',
        version: s('v'),
        requestType: s('type'),
        domain: s('domain'),
        resource: s('resource'),
        endpoint: s('endpoint'),
        traceId: s('trace'),
        spanId: s('span'),
        parentSpanId: s('parent'),
        xRequestId: s('xrid'),
      };
    }
    return { type: 'response', code: 500, status: 'server_error', exception: s('exception'), xRequestId: s('rxrid') };
  }
}

const SECRETS = ['hunter2', 'abc123', '4111-1111-1111-1111'];

function assertClean(rows: L7FlowLogRow[], where: string): void {
  assert.equal(rows.length, 1, `${where}: one row`);
  for (const [col, v] of Object.entries(rows[0])) {
    if (typeof v === 'string') {
      for (const secret of SECRETS) {
        assert.ok(!v.includes(secret), `${where}: ${col} = ${v}`);
      }
    }
  }
  // the redacted values keep their non-secret text
  assert.equal(rows[0].request_resource, 'resource password=*** token=*** card-***');
  assert.equal(rows[0].response_exception, 'exception password=*** token=*** card-***');
}

test('every column whose text comes from the payload is redacted, with the user patterns, on both paths (one Redactor)', () => {
  const { p, rows } = pipeline([new SecretCarrier()], ['\\d{4}-\\d{4}-\\d{4}-\\d{4}']);
  p.handle(dataEvent(1, 40001, Direction.Egress, 'REQ', 1e9));
  p.handle(dataEvent(1, 40001, Direction.Ingress, 'RES', 2e9));
  p.finish();
  assertClean(rows, 'client_process');

  // the packet layer builds its flows with the pipeline's parsers and Redactor (packetLayer.ts)
  const l7: L7FlowLogRow[] = [];
  const flows = new PacketFlows({
    host: 'h',
    parsers: p.parsers,
    redactor: p.redactor,
    iface: () => ({ netns: '', ifname: 'eth0', localAddrs: new Set(['10.0.0.2']) }),
    baseUs: 1_700_000_000_000_000,
    sink: { timeline: () => undefined, l7: (r) => l7.push(...r) },
    directory: { pidOf: () => 0, comm: () => '', service: () => '', remoteService: () => '' },
  });
  const pkt = (toServer: boolean, seq: number, flags: number, payload: string, dt: number) =>
    decodePacket(
      tcpPacket(
        toServer
          ? { src: '10.0.0.1', dst: '10.0.0.2', sport: 40001, dport: 8080, seq, flags, payload }
          : { src: '10.0.0.2', dst: '10.0.0.1', sport: 8080, dport: 40001, seq, flags, payload }
      ),
      1,
      1_700_000_000_000_000 + dt,
      !toServer,
      0
    )!;
  flows.onPacket(pkt(true, 1, TCP_SYN, '', 1));
  flows.onPacket(pkt(false, 50, TCP_SYN | TCP_ACK, '', 2));
  flows.onPacket(pkt(true, 2, TCP_ACK | TCP_PSH, 'REQ', 3));
  flows.onPacket(pkt(false, 51, TCP_ACK | TCP_PSH, 'RES', 4));
  flows.finish();
  assert.equal(l7[0]?.observation_point, 'server_nic');
  assertClean(l7, 'server_nic');
});
