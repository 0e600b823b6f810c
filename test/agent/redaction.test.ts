import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_USER_PATTERN_INPUT, Redactor, redactParameters } from '../../src/agent/requestlog/redaction';

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
  assert.equal(
    r.redact(url),
    '/login?user=ann&password=***',
    'the second sight (the other end of the call) is the same'
  );
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

test('the built-in rule is a forward scan: hostile texts take time proportional to their length, and match the former pattern', () => {
  const hostile = (n: number) => `/x?${'&password'.repeat(n / 18)}${'='.repeat(n / 2)}${' pass'.repeat(n / 10)}`;
  const time = (text: string) => {
    let best = Infinity;
    for (let k = 0; k < 5; k++) {
      const t0 = process.hrtime.bigint();
      redactParameters(text);
      best = Math.min(best, Number(process.hrtime.bigint() - t0));
    }
    return best;
  };
  const small = time(hostile(16384));
  const large = time(hostile(262144));
  // 16x the text: linear is ~16x; a quadratic scan would be ~256x
  assert.ok(large < small * 64, `16 KiB ${small} ns, 256 KiB ${large} ns`);
  assert.ok(large < 100e6, `256 KiB took ${large / 1e6} ms`);
  assert.equal(
    redactParameters('a=1&password=&token=x;Secret=y z,auth=q#pwd=r'),
    'a=1&password=***&token=***;Secret=*** z,auth=***#pwd=r'
  );
  assert.equal(
    redactParameters('password=a?token=b&sig=c'),
    'password=***&sig=***',
    'a value runs to & # ; , or whitespace'
  );
  assert.equal(redactParameters('my_password=x mypass=y passwords=z'), 'my_password=x mypass=y passwords=z');
  assert.equal(redactParameters('token\u00a0token=x'), 'token\u00a0token=***');
});

test('user patterns run on at most MAX_USER_PATTERN_INPUT characters: a longer text is cut first', () => {
  const r = new Redactor(['a+b']);
  const long = `/p/${'a'.repeat(5000)}`;
  const out = r.redact(long);
  assert.equal(out.length, MAX_USER_PATTERN_INPUT);
  assert.equal(r.redact('/p/aab/q'), '/p/***/q');
});
