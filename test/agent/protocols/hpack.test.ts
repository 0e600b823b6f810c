// HPACK decoder against the examples of RFC 7541 Appendix C, plus the loss and bound rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HpackDecoder, huffmanDecode, MAX_STRING } from '../../../src/agent/protocols/http2/hpack';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const pairs = (d: HpackDecoder, block: string) => {
  const r = d.decode(hex(block));
  assert.equal(r.complete, true);
  return r.fields.map((f) => `${f.name}: ${f.value}`);
};

test('C.2: one field of each representation', () => {
  const d = new HpackDecoder();
  assert.deepEqual(pairs(d, '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'), [
    'custom-key: custom-header',
  ]);
  assert.equal(d.tableSize, 55);
  assert.deepEqual(pairs(d, '040c 2f73 616d 706c 652f 7061 7468'), [':path: /sample/path']);
  assert.deepEqual(pairs(d, '1008 7061 7373 776f 7264 0673 6563 7265 74'), ['password: secret']);
  assert.deepEqual(pairs(d, '82'), [':method: GET']);
  assert.equal(d.tableLength, 1, 'only the incremental literal was added');
});

const REQUESTS = [
  [':method: GET', ':scheme: http', ':path: /', ':authority: www.example.com'],
  [':method: GET', ':scheme: http', ':path: /', ':authority: www.example.com', 'cache-control: no-cache'],
  [':method: GET', ':scheme: https', ':path: /index.html', ':authority: www.example.com', 'custom-key: custom-value'],
];

test('C.3: requests without Huffman, one table across them', () => {
  const d = new HpackDecoder();
  assert.deepEqual(pairs(d, '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d'), REQUESTS[0]);
  assert.equal(d.tableSize, 57);
  assert.deepEqual(pairs(d, '8286 84be 5808 6e6f 2d63 6163 6865'), REQUESTS[1]);
  assert.equal(d.tableSize, 110);
  assert.deepEqual(pairs(d, '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65'), REQUESTS[2]);
  assert.equal(d.tableSize, 164);
});

test('C.4: requests with Huffman', () => {
  const d = new HpackDecoder();
  assert.deepEqual(pairs(d, '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff'), REQUESTS[0]);
  assert.deepEqual(pairs(d, '8286 84be 5886 a8eb 1064 9cbf'), REQUESTS[1]);
  assert.deepEqual(pairs(d, '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'), REQUESTS[2]);
  assert.equal(d.tableSize, 164);
});

const RESPONSES = [
  [
    ':status: 302',
    'cache-control: private',
    'date: Mon, 21 Oct 2013 20:13:21 GMT',
    'location: https://www.example.com',
  ],
  [
    ':status: 307',
    'cache-control: private',
    'date: Mon, 21 Oct 2013 20:13:21 GMT',
    'location: https://www.example.com',
  ],
  [
    ':status: 200',
    'cache-control: private',
    'date: Mon, 21 Oct 2013 20:13:22 GMT',
    'location: https://www.example.com',
    'content-encoding: gzip',
    'set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1',
  ],
];

test('C.5: responses without Huffman, 256-octet table with evictions', () => {
  const d = new HpackDecoder(256);
  assert.deepEqual(
    pairs(
      d,
      `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e
    1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`
    ),
    RESPONSES[0]
  );
  assert.equal(d.tableSize, 222);
  assert.deepEqual(pairs(d, '4803 3330 37c1 c0bf'), RESPONSES[1]);
  assert.equal(d.tableSize, 222);
  assert.deepEqual(
    pairs(
      d,
      `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d
    4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31`
    ),
    RESPONSES[2]
  );
  assert.equal(d.tableSize, 215);
  assert.equal(d.tableLength, 3);
});

test('C.6: responses with Huffman, 256-octet table with evictions', () => {
  const d = new HpackDecoder(256);
  assert.deepEqual(
    pairs(
      d,
      `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8
    e9ae 82ae 43d3`
    ),
    RESPONSES[0]
  );
  assert.deepEqual(pairs(d, '4883 640e ff c1 c0 bf'), RESPONSES[1]);
  assert.deepEqual(
    pairs(
      d,
      `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b
    3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07`
    ),
    RESPONSES[2]
  );
  assert.equal(d.tableSize, 215);
});

test('a size update evicts, and 0 makes a lost table whole again', () => {
  const d = new HpackDecoder();
  pairs(d, '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572');
  assert.equal(d.tableLength, 1);
  pairs(d, '3f11'); // size update to 48: the 55-octet entry goes
  assert.equal(d.tableLength, 0);
  d.markLost();
  assert.deepEqual(
    d.decode(hex('be')).fields,
    [{ name: '', value: undefined }],
    'a lost entry is unknown, not an error'
  );
  assert.equal(d.isSynced, false);
  pairs(d, '20');
  assert.equal(d.isSynced, true);
  assert.equal(d.decode(hex('be')).complete, false, 'past a whole table is an error');
});

test('a block cut mid-field keeps the fields before the cut', () => {
  const d = new HpackDecoder();
  const r = d.decode(hex('8286 8441 0f77 7777 2e65 78'));
  assert.equal(r.complete, false);
  assert.deepEqual(
    r.fields.map((f) => f.value),
    ['GET', 'http', '/']
  );
});

test('Huffman: padding rules and the string cap', () => {
  assert.equal(huffmanDecode(hex('f1e3c2e5f23a6ba0ab90f4ff'), 0, 12), 'www.example.com');
  assert.equal(huffmanDecode(hex('ffffffff'), 0, 4), null, 'EOS or over-long padding is invalid');
  assert.equal(huffmanDecode(hex('00'), 0, 1), null, 'padding must be ones');
  const many = Buffer.alloc(2000, 0); // 3200 times "0" (code 00000): decodes, capped
  const s = huffmanDecode(many, 0, many.length);
  assert.ok(s !== null && s.length === MAX_STRING);
  const d = new HpackDecoder();
  const long = Buffer.concat([hex('400178'), Buffer.from([0x7f, 0xe9, 0x06]), Buffer.alloc(1000, 0x61)]); // value of 1000 octets
  const r = d.decode(long);
  assert.equal(r.fields[0].value!.length, MAX_STRING);
  assert.equal(d.tableSize, 1 + 1000 + 32, 'the table counts the full length');
});
