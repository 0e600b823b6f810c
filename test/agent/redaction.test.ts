import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redactor } from '../../src/agent/requestlog/redaction';

test('secret parameters are masked wherever they appear; other text is untouched', () => {
  const r = new Redactor();
  assert.equal(r.redact('/login?user=ann&password=hunter2&next=/home'), '/login?user=ann&password=***&next=/home');
  assert.equal(r.redact('/api?access_token=abc.def&x=1'), '/api?access_token=***&x=1');
  assert.equal(r.redact('/cb?TOKEN=Zz9#frag'), '/cb?TOKEN=***#frag');
  assert.equal(r.redact('AUTH user pass=topsecret'), 'AUTH user pass=***');
  assert.equal(r.redact('/products?id=7&sort=price'), '/products?id=7&sort=price');
  assert.equal(r.redact('/tokens/list'), '/tokens/list', 'a path segment named like a secret is not a secret');
});

test('user patterns mask their whole match', () => {
  const r = new Redactor(['\\b\\d{4}-\\d{4}-\\d{4}-\\d{4}\\b']);
  assert.equal(r.redact("INSERT INTO cards VALUES ('4111-1111-1111-1111')"), "INSERT INTO cards VALUES ('***')");
});

test('a text seen again is answered from the memo: same result, secrets still masked, bounded', () => {
  const r = new Redactor();
  const url = '/login?user=ann&password=hunter2';
  assert.equal(r.redact(url), '/login?user=ann&password=***');
  assert.equal(r.redact(url), '/login?user=ann&password=***', 'the second sight (the other end of the call) is the same');
  // far more distinct texts than the memo holds: each is still redacted on its own
  for (let i = 0; i < 10_000; i++) {
    assert.equal(r.redact(`/p?id=${i}&token=t${i}`), `/p?id=${i}&token=***`);
  }
  assert.equal(r.redact(url), '/login?user=ann&password=***');
  // user patterns apply to texts without '=' too, memo or not
  const u = new Redactor(['secret-\\d+']);
  assert.equal(u.redact('/files/secret-42'), '/files/***');
  assert.equal(u.redact('/files/secret-42'), '/files/***');
});
