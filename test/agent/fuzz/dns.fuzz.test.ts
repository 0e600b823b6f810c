import { test } from 'node:test';
import { fuzzParser } from './fuzzHarness';
import { DnsParser } from '../../../src/agent/protocols/dns/dnsParser';

const corpus = [
  '2fbb01200001000000000001056b6e6f776e0474657374000001000100002904d000000000000c000a0008b1c1a7e0f6bc1b4e',
  '2fbb85800001000100000001056b6e6f776e0474657374000001000100c00c000100010000000000040a010203000029',
  '0033a80d01200001000000000001056b6e6f776e04746573740000010001',
].map((h) => Buffer.from(h, 'hex'));

test('DNS parser survives random and mutated input', () => {
  fuzzParser(() => new DnsParser(), corpus, 3);
});
