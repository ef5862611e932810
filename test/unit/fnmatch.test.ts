// The interface-name globs: our fnmatch against glibc's fnmatch(3), flags 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GlobError, GlobList, globToRegExp } from '../../src/commands/fnmatch.ts';
import { ffi } from '../../src/platform/linux/ffi.ts';

const { libc } = ffi();
const fnmatch: (pattern: string, name: string, flags: number) => number = libc.func('int fnmatch(const char *pattern, const char *string, int flags)');
const glibc = (p: string, n: string): boolean => fnmatch(p, n, 0) === 0;

test('the documented examples', () => {
  const list = new GlobList(['veth*', 'docker*', 'br-*']);
  for (const n of ['veth0a1b2c', 'docker0', 'br-5f3c0e1d2a4b']) assert.ok(list.matches(n), n);
  for (const n of ['eth0', 'lo', 'br0', 'ens3', 'xveth0']) assert.ok(!list.matches(n), n);
  assert.ok(new GlobList([]).empty);
});

test('edge cases agree with glibc', () => {
  const cases: Array<[string, string]> = [
    ['[]]', ']'], ['[!]]', 'a'], ['[', '['], ['a[b', 'a[b'], ['[a-]', '-'], ['[-a]', '-'], ['[z-a]', 'b'], ['[!z-a]', 'b'],
    ['x\\*', 'x*'], ['x\\*', 'xy'], ['\\', '\\'], ['[\\]]', ']'], ['[a\\-c]', 'b'], ['e?h0', 'eth0'], ['*', ''], ['?', ''],
    ['.*', '.x'], ['[^a]', 'b'], ['(x)|y', '(x)|y'], ['$^', '$^'], ['a{1}', 'a{1}'], ['*0', 'eth0'], ['a\\', 'a\\'],
    ['[a\\]', '[a]'], ['[\\', '['], ['[!', '[!'], ['[]', '[]'],
  ];
  for (const [p, n] of cases) {
    assert.equal(globToRegExp(p).test(n), glibc(p, n), `${p} vs ${n}`);
  }
});

test('POSIX classes and collating elements are refused in words', () => {
  for (const p of ['[[:digit:]]', 'x[[.a.]]', '[![=e=]]']) assert.throws(() => globToRegExp(p), GlobError, p);
});

test('random patterns and names agree with glibc', () => {
  const alphabet = fc.constantFrom('a', 'b', 'c', '-', '*', '?', '[', ']', '!', '^', '\\', '.', '0', ':', '=');
  const str = (max: number) => fc.array(alphabet, { maxLength: max }).map((a) => a.join(''));
  fc.assert(
    fc.property(str(8), fc.array(fc.constantFrom('a', 'b', 'c', '-', '.', '0', ']', '[', '!', '\\'), { maxLength: 6 }).map((a) => a.join('')), (p, n) => {
      let re: RegExp;
      try {
        re = globToRegExp(p);
      } catch (err) {
        assert.ok(err instanceof GlobError && /\[[:.=]/.test(p), p);
        return;
      }
      assert.equal(re.test(n), glibc(p, n), `${JSON.stringify(p)} vs ${JSON.stringify(n)}`);
    }),
    { numRuns: 5000 },
  );
});
