// Fuzzing for protocol parsers: random bytes and mutations of real captures must never throw, hang
// or return unbounded output. Iterations come from FLOWLENS_FUZZ_ITERATIONS (a short run in the
// tests; the benchmark command runs a million per parser).
import assert from 'node:assert/strict';
import type { ParsedMessage, ProtocolParser, SegmentContext } from '../../../src/agent/protocols/types';

export const FUZZ_ITERATIONS = Number(process.env.FLOWLENS_FUZZ_ITERATIONS ?? 20000);

/** Deterministic PRNG so a failure can be replayed from its seed. */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

export function mutate(base: Buffer, rnd: () => number): Buffer {
  const b = Buffer.from(base);
  const ops = 1 + Math.floor(rnd() * 8);
  let out = b;
  for (let i = 0; i < ops; i++) {
    const op = Math.floor(rnd() * 5);
    const pos = Math.floor(rnd() * Math.max(1, out.length));
    if (op === 0 && out.length) {
      out[pos] = Math.floor(rnd() * 256); // flip a byte
    } else if (op === 1) {
      out = out.subarray(0, pos); // truncate
    } else if (op === 2) {
      const ins = Buffer.alloc(1 + Math.floor(rnd() * 16));
      for (let j = 0; j < ins.length; j++) {
        ins[j] = Math.floor(rnd() * 256);
      }
      out = Buffer.concat([out.subarray(0, pos), ins, out.subarray(pos)]); // insert junk
    } else if (op === 3 && out.length >= 4) {
      out.writeUInt32BE(rnd() < 0.5 ? 0xffffffff : Math.floor(rnd() * 4294967296), Math.min(pos, out.length - 4)); // hostile length
    } else {
      out = Buffer.concat([out, out.subarray(0, pos)]); // repeat a prefix
    }
  }
  return out;
}

export interface FuzzResult {
  inputs: number;
  messages: number;
  slowestMs: number;
}

/**
 * Feeds `iterations` inputs (mutated `corpus` captures and random bytes) to parse() and infer() in
 * both directions; fails on a throw, an input slower than `maxMsPerInput`, or a field longer than
 * `maxFieldLength`.
 */
export function fuzzParser(
  make: () => ProtocolParser,
  corpus: Buffer[],
  seed = 1,
  iterations = FUZZ_ITERATIONS,
  maxMsPerInput = 50,
  maxFieldLength = 4096
): FuzzResult {
  const rnd = prng(seed);
  let parser = make();
  let messages = 0;
  let slowestMs = 0;
  for (let i = 0; i < iterations; i++) {
    if (i % 1000 === 0) {
      parser = make(); // fresh per-connection state now and then, as connections come and go
      parser = parser.forConnection ? parser.forConnection() : parser;
    }
    let input: Buffer;
    if (corpus.length && rnd() < 0.8) {
      input = mutate(corpus[Math.floor(rnd() * corpus.length)], rnd);
    } else {
      input = Buffer.alloc(Math.floor(rnd() * 300));
      for (let j = 0; j < input.length; j++) {
        input[j] = Math.floor(rnd() * 256);
      }
    }
    const ctx: SegmentContext = {
      egress: rnd() < 0.5,
      localPort: 40000,
      peerPort: 1000,
      l4: rnd() < 0.8 ? 'TCP' : 'UDP',
    };
    const retLen = input.length + Math.floor(rnd() * 3) * 100;
    const request: ParsedMessage | undefined = rnd() < 0.5 ? { type: 'request' } : undefined;
    const run = () => {
      const t0 = process.hrtime.bigint();
      try {
        parser.infer(input, ctx);
        const parsed = parser.parse(input, retLen, request, ctx);
        return { parsed, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
      } catch (err) {
        assert.fail(
          `${parser.protocol} parser threw on input #${i} (seed ${seed}) ${input.toString('hex').slice(0, 400)}: ${(err as Error).stack}`
        );
      }
    };
    let { parsed: out, ms } = run();
    if (ms >= maxMsPerInput) {
      // a GC pause or a busy machine can stall one call: only an input slow twice is a finding
      ms = Math.min(ms, run().ms);
    }
    slowestMs = Math.max(slowestMs, ms);
    assert.ok(
      ms < maxMsPerInput,
      `${parser.protocol} parser took ${ms.toFixed(1)} ms, twice, on input #${i} (seed ${seed})`
    );
    for (const m of out === null || out === undefined ? [] : Array.isArray(out) ? out : [out]) {
      messages++;
      for (const [k, v] of Object.entries(m)) {
        if (typeof v === 'string') {
          assert.ok(
            v.length <= maxFieldLength,
            `${parser.protocol}: field ${k} is ${v.length} chars long (input #${i}, seed ${seed})`
          );
        }
      }
    }
  }
  return { inputs: iterations, messages, slowestMs };
}
