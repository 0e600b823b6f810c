// The LZMA2/.xz decoder against the real xz tool: several presets, checks, block splits and data
// shapes must round-trip exactly; damaged input must fail with XzError, not hang or crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { xzDecompress, XzError } from '../../../src/agent/profiling/xz';

const xz = (data: Buffer, args: string[]) => execFileSync('xz', ['-c', ...args], { input: data, maxBuffer: 1 << 28 });

function samples(): Array<[string, Buffer]> {
  const text = Buffer.from(
    Array.from({ length: 20000 }, (_, i) => `line ${i} of some repetitive text ${i % 97}\n`).join('')
  );
  const mixed = Buffer.concat([
    randomBytes(70000),
    text.subarray(0, 100000),
    Buffer.alloc(50000, 7),
    randomBytes(3000),
  ]);
  return [
    ['empty', Buffer.alloc(0)],
    ['one byte', Buffer.from('x')],
    ['text', text],
    ['random (stored chunks)', randomBytes(200000)],
    ['mixed', mixed],
    ['an ELF binary', readFileSync(process.execPath).subarray(0, 1 << 20)],
  ];
}

const presets: string[][] = [
  [],
  ['-0'],
  ['-9e'],
  ['--check=crc32'],
  ['--check=sha256'],
  ['--check=none'],
  ['--block-size=65536'],
  ['--lzma2=preset=6,lc=0,lp=2,pb=0'],
  ['--lzma2=preset=3,lc=4,lp=0,pb=4'],
];

for (const [name, data] of samples()) {
  test(`xz round trip: ${name}`, () => {
    for (const p of presets) {
      if (name === 'an ELF binary' && p.includes('-9e')) {
        continue; // slow to compress, adds nothing the other presets do not cover
      }
      const out = xzDecompress(xz(data, p));
      assert.ok(
        out.equals(data),
        `${name} with xz ${p.join(' ') || '(defaults)'}: ${out.length} bytes back, want ${data.length}`
      );
    }
  });
}

test('xz: damaged or foreign input fails with XzError', () => {
  const good = xz(Buffer.from('hello hello hello hello '.repeat(1000)), ['--check=crc32']);
  assert.throws(() => xzDecompress(Buffer.from('not xz at all')), XzError);
  assert.throws(() => xzDecompress(good.subarray(0, good.length >> 1)), XzError);
  let failures = 0;
  for (let i = 12; i < good.length - 12; i += 3) {
    const bad = Buffer.from(good);
    bad[i] ^= 0x5a;
    try {
      xzDecompress(bad);
    } catch (err) {
      assert.ok(err instanceof XzError, `byte ${i}: ${(err as Error).message}`);
      failures++;
    }
  }
  assert.ok(failures > 0, 'a flipped byte must be noticed somewhere');
  const x86 = xz(Buffer.alloc(1000, 1), ['--x86', '--lzma2']);
  assert.throws(() => xzDecompress(x86), /only LZMA2/);
  assert.throws(() => xzDecompress(xz(randomBytes(5000), []), 1000), /exceeds 1000 bytes/);
});
