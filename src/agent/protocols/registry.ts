// The protocols the agent tries, in order, on a new connection's first bytes.
// Order matters only between protocols whose first bytes can look alike: the more specific first.
// Adding a protocol = one folder under protocols/ and one line here.
import type { ProtocolParser, SegmentContext } from './types';
import { Http2Parser } from './http2/http2Parser';
import { Http1Parser } from './http1/http1Parser';
import { DnsParser } from './dns/dnsParser';
import { MqttParser } from './mqtt/mqttParser';
import { AmqpParser } from './amqp/amqpParser';
import { NatsParser } from './nats/natsParser'; // before HTTP/1 and Redis: NATS opens with CONNECT { / INFO {
import { RedisParser } from './redis/redisParser';
import { MemcachedParser } from './memcached/memcachedParser';
import { PostgresqlParser } from './postgresql/postgresqlParser';
import { MysqlParser } from './mysql/mysqlParser';
import { KafkaParser } from './kafka/kafkaParser'; // last: it also accepts a bare request header (a JVM broker's read after the size)

export function defaultParsers(): ProtocolParser[] {
  return [
    new DnsParser(),
    new NatsParser(),
    new MqttParser(),
    new AmqpParser(),
    new Http2Parser(),
    new Http1Parser(),
    new PostgresqlParser(),
    new MysqlParser(),
    new RedisParser(),
    new MemcachedParser(),
    new KafkaParser(),
  ];
}

/** The parser for a new connection (a fresh instance when the protocol keeps per-connection state). */
export function inferProtocol(
  parsers: ProtocolParser[],
  segment: Buffer,
  ctx: SegmentContext
): ProtocolParser | undefined {
  for (const p of parsers) {
    if (p.infer(segment, ctx)) {
      return p.forConnection ? p.forConnection() : p;
    }
  }
  return undefined;
}
