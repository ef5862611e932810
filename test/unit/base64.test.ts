import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BASE64_INVALID_DESC, decodeBase64, encodeBase64 } from '../../src/protocol/base64.ts';
import { WireString } from '../../src/json/value.ts';

function dec(s: string): string {
  return decodeBase64(s).toString('latin1');
}

function rejects(s: string): void {
  assert.throws(() => decodeBase64(s), (e: { desc?: string; errorClass?: string }) => {
    assert.equal(e.errorClass, 'GenericError');
    assert.equal(e.desc, BASE64_INVALID_DESC);
    return true;
  }, JSON.stringify(s));
}

test('standard padded and unpadded-complete input', () => {
  assert.equal(dec(''), '');
  assert.equal(dec('YWJj'), 'abc');
  assert.equal(dec('YWI='), 'ab');
  assert.equal(dec('YQ=='), 'a');
  assert.equal(dec('aGVsbG8gd29ybGQK'), 'hello world\n');
});

test('docs/compatibility.md §Intended differences: a final 2- or 3-character group decodes as RFC 4648', () => {
  assert.equal(dec('YWJ'), 'ab');
  assert.equal(dec('YQ'), 'a');
  assert.equal(dec('YWJjYWJ'), 'abcab');
  assert.equal(dec('YW='), 'a'); // partially padded final group
  assert.equal(dec('YWJjYW='), 'abca');
});

test('a 1-character tail and misplaced "=" are the invalid-characters error', () => {
  for (const s of ['Y', 'YWJjY', '=', '==', '===', '====', 'aG=k', 'a===', '=AAA', 'A=AA', 'Y=', 'YWJjY=', 'YQ=A', 'YQ==Y', 'YWJj=', 'YWJj==']) rejects(s);
});

test('padded groups written back to back are accepted', () => {
  assert.equal(dec('YQ==YQ=='), 'aa');
  assert.equal(dec('YWI=YWJj'), 'ababc');
  assert.equal(dec('YQ==YWJ'), 'aab');
  assert.equal(dec('YQ==YWJjYQ=='), 'aabca');
});

test('LF is skipped anywhere, CR and other whitespace are invalid', () => {
  assert.equal(dec('YW\nJj'), 'abc');
  assert.equal(dec('\nYWJj\n'), 'abc');
  assert.equal(dec('YQ=\n='), 'a');
  assert.equal(dec('\n\n'), '');
  rejects('YW\r\nJj');
  rejects('YW Jj');
  rejects('YWJj\t');
});

test("strict pre-check: only A-Z a-z 0-9 + / = and LF", () => {
  for (const s of ['!!!notbase64', 'YW-j', 'YW_j', 'YWJj.', 'ä', 'YWJj\u00ff', 'YWJj\u{1F600}']) rejects(s);
  assert.equal(decodeBase64('++//').toString('hex'), 'fbefff');
});

test('NUL is invalid (qemu-ga sees it as the bytes C0 80), not an end of string', () => {
  rejects('YWJj\u0000!!!');
  rejects('YWJj\u0000');
  rejects('\u0000');
});

test('round trip of random data of every length 0..300', () => {
  for (let n = 0; n <= 300; n++) {
    const b = randomBytes(n);
    const s = encodeBase64(b);
    assert.equal(s, b.toString('base64'));
    assert.deepEqual(decodeBase64(s), b);
    // Unpadded form decodes to the same bytes (the fix), wrapped form too.
    assert.deepEqual(decodeBase64(s.replace(/=+$/, '')), b);
    assert.deepEqual(decodeBase64(s.replace(/(.{76})/g, '$1\n')), b);
  }
});

test('encodeBase64 of a prefix and of nothing', () => {
  const b = Buffer.from('abcdef');
  assert.equal(encodeBase64(b, 3), 'YWJj');
  assert.equal(encodeBase64(b, 0), '');
  assert.equal(encodeBase64(new Uint8Array([0xff])), '/w==');
});

test('64 MiB inputs: plain, LF-wrapped and back-to-back padded groups', () => {
  const data = randomBytes(48 * 1024 * 1024);
  const s = data.toString('base64');
  assert.equal(s.length, 64 * 1024 * 1024);
  assert.ok(decodeBase64(s).equals(data));
  const wrapped = s.replace(/(.{4096})/g, '$1\n');
  assert.ok(decodeBase64(wrapped).equals(data));
  const groups = 'YQ=='.repeat(16 * 1024 * 1024);
  const out = decodeBase64(groups);
  assert.equal(out.length, 16 * 1024 * 1024);
  assert.ok(out.every((x) => x === 0x61));
  rejects(s.slice(0, -5) + '!' + s.slice(-4));
});

test('planBase64: plain inputs report their decoded length and decode piecewise; others defer', async () => {
  const { planBase64 } = await import('../../src/protocol/base64.ts');
  for (let n = 0; n <= 200; n++) {
    const b = randomBytes(n);
    for (const s of [b.toString('base64'), b.toString('base64').replace(/=+$/, '')]) {
      const plan = planBase64(s);
      assert.ok(plan, s);
      assert.equal(plan.length, n, s);
      const out = Buffer.alloc(n + 3);
      let got = 0;
      for (let i = 0; i < s.length; i += 8) got += plan.readInto(out.subarray(got, got + 6));
      assert.equal(got, n);
      assert.ok(out.subarray(0, n).equals(b));
    }
  }
  assert.equal(planBase64('YW\nJj'), null);
  assert.equal(planBase64('YQ==YQ=='), null);
  assert.equal(planBase64('YW='), null);
  assert.throws(() => planBase64('Y'), /Base64 data contains invalid characters/);
  assert.throws(() => planBase64('YWJj!'), /Base64 data contains invalid characters/);
  assert.throws(() => planBase64('YWJjY'), /Base64 data contains invalid characters/);
});

/** A WireString over `text` cut into chunks of the given sizes (cycled), classified as the lexer does. */
function wire(text: string, sizes: number[]): WireString {
  const all = Buffer.from(text, 'latin1');
  const chunks: Buffer[] = [];
  for (let i = 0, k = 0; i < all.length; k++) {
    const n = Math.max(1, sizes[k % sizes.length]);
    chunks.push(Buffer.from(all.subarray(i, i + n)));
    i += n;
  }
  return new WireString(chunks, !/[^A-Za-z0-9+/=]/.test(text));
}

test('planWireBase64 agrees with planBase64 and decodeBase64, whatever the chunking', async () => {
  const { planBase64, planWireBase64, decodeBase64 } = await import('../../src/protocol/base64.ts');
  const outcome = (f: () => unknown): unknown => {
    try {
      return f();
    } catch (e) {
      return (e as Error).message;
    }
  };
  const decodeAll = (plan: { length: number; readInto(out: Buffer): number } | null, step: number): unknown => {
    if (plan === null) return null;
    const out = Buffer.alloc(plan.length + step);
    let got = 0;
    for (;;) {
      const n = plan.readInto(out.subarray(got, got + step));
      if (n === 0) break;
      got += n;
    }
    return [plan.length, out.subarray(0, got).toString('hex')];
  };
  const inputs: string[] = ['', 'Y', 'YQ', 'YQ=', 'YQ==', 'YWJj', 'YWJjZA', 'YWJjZA==', 'YQ==YQ==', 'aG=k', 'a===', '=AAA', 'YW=', 'YWJj!', 'YW Jj', 'YWJj-_'];
  for (let n = 0; n < 300; n += 7) {
    const b = randomBytes(n).toString('base64');
    inputs.push(b, b.replace(/=+$/, ''), b + 'Y', b.slice(0, 5) + '=' + b.slice(5));
  }
  inputs.push(randomBytes(100_000).toString('base64'));
  for (const text of inputs) {
    for (const sizes of [[1], [3], [5, 1, 7], [64], [65536]]) {
      const w = wire(text, sizes);
      assert.equal(w.length, text.length);
      assert.equal(w.toString(), text);
      for (const step of [3, 6, 12, 3 * 1024]) {
        const want = outcome(() => decodeAll(planBase64(text), step));
        const got = outcome(() => decodeAll(planWireBase64(w), step));
        assert.deepEqual(got, want, `${text.slice(0, 40)} sizes ${sizes} step ${step}`);
        if (Array.isArray(got)) assert.equal(got[1], decodeBase64(text).toString('hex'));
      }
    }
  }
});
