import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ConfigError, loadConfig } from '../../../src/agent/config';

function withFile(obj: object): string {
  const p = join(mkdtempSync(join(tmpdir(), 'flowlens-cfg-')), 'c.json');
  writeFileSync(p, JSON.stringify(obj));
  return p;
}

test('network.capture: defaults, file values, environment overrides', () => {
  const d = loadConfig(undefined, {}).network.capture;
  assert.deepEqual(d, {
    enabled: true,
    interfaces: [],
    netns: [],
    hostNamespace: true,
    payloadBytes: 256,
    ringBytes: 2 << 20,
  });
  const f = loadConfig(
    withFile({ network: { capture: { interfaces: ['eth0'], netns: ['pod1'], payloadBytes: 512 } } }),
    {}
  ).network.capture;
  assert.deepEqual([f.interfaces, f.netns, f.payloadBytes, f.hostNamespace], [['eth0'], ['pod1'], 512, true]);
  const e = loadConfig(withFile({ network: { capture: { interfaces: ['eth0'] } } }), {
    FLOWLENS_CAPTURE_INTERFACES: 'eth1, eth2',
    FLOWLENS_CAPTURE_NETNS: 'a,/proc/1/ns/net',
    FLOWLENS_PACKET_CAPTURE: 'false',
  }).network.capture;
  assert.deepEqual([e.interfaces, e.netns, e.enabled], [['eth1', 'eth2'], ['a', '/proc/1/ns/net'], false]);
});

test('network.capture: a bad value is one error naming the key', () => {
  assert.throws(
    () => loadConfig(withFile({ network: { capture: { payloadBytes: 99999 } } }), {}),
    (e: Error) => e instanceof ConfigError && /network\.capture\.payloadBytes=99999/.test(e.message)
  );
  assert.throws(() => loadConfig(withFile({ network: { capture: { ifaces: [] } } }), {}), /unknown key "ifaces"/);
  assert.throws(() => loadConfig(undefined, { FLOWLENS_CAPTURE_NETNS: '../../etc' }), /FLOWLENS_CAPTURE_NETNS/);
});
