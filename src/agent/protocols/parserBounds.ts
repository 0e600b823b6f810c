// Every table a parser keeps per connection has a bound in entries (bytes for buffered message
// starts: see LengthFramer, the HTTP/2 reassembly, NATS lines, Kafka heads, MessageStream's head
// carry); when one is full its oldest entry goes. Each eviction is counted here, one counter per
// table, for the whole agent: parser state lives in thousands of connections and dies with them, so
// the counters are module-level and the pipeline reads them for its status line.
export const parserEvictions = {
  /** requests waiting for their response (MessageStream, 1024 per connection): settled as timeouts */
  pendingRequests: 0,
  /** HTTP/2 open streams (1024 per connection) */
  http2Streams: 0,
  /** PostgreSQL prepared statements (256) and portals (64) per connection */
  postgresqlStatements: 0,
  postgresqlPortals: 0,
  /** MySQL prepared statements (256) and commands awaiting their reply (64) per connection */
  mysqlStatements: 0,
  mysqlPending: 0,
  /** Kafka requests awaiting their response (1024 per connection), topic ids -> names (agent-wide) */
  kafkaPending: 0,
  kafkaTopicIds: 0,
  /** AMQP channels (2048) and synchronous methods awaiting their reply (256 per channel) */
  amqpChannels: 0,
  amqpPending: 0,
  /** NATS subscriptions: sid -> subject (1024 per connection) */
  natsSubscriptions: 0,
  /** Memcached requests awaiting their reply (1024 per connection) */
  memcachedOutstanding: 0,
};

export type ParserTable = keyof typeof parserEvictions;

/** Deletes the oldest entry of an insertion-ordered map that is full, counting it. */
export function evictOldest<K, V>(map: Map<K, V>, max: number, table: ParserTable): void {
  while (map.size >= max) {
    map.delete(map.keys().next().value as K);
    parserEvictions[table]++;
  }
}

/** For the status line: `parser evictions N` and, when any, the tables that evicted. */
export function parserEvictionsText(): string {
  let total = 0;
  const parts: string[] = [];
  for (const [table, n] of Object.entries(parserEvictions)) {
    if (n > 0) {
      total += n;
      parts.push(`${table} ${n}`);
    }
  }
  return `parser evictions ${total}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}
