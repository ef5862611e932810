// The libc parsing pieces the inventory commands rely on: sscanf/strtoul/strtol/atoi with glibc's
// semantics, and inet_ntop's address text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EOF, atoi, sscanf, strtol, strtoul } from '../../src/platform/linux/scanf.ts';
import { inetNtop4, inetNtop6 } from '../../src/platform/linux/inet.ts';

test('sscanf: the return value counts assignments; EOF only when input ends before the first one', () => {
  assert.equal(sscanf('', '%d').ret, EOF);
  assert.equal(sscanf('   \n', '%s').ret, EOF);
  assert.equal(sscanf('abc', '%d').ret, 0);
  assert.equal(sscanf('cpu', 'cpu%ld').ret, EOF); // qemu-ga's vCPU scan treats this as a match
  assert.equal(sscanf('cpufreq', 'cpu%ld').ret, 0);
  assert.deepEqual(sscanf('cpu12', 'cpu%ld'), { ret: 1, values: [12n] });
  assert.deepEqual(sscanf('5', '%d %d'), { ret: 1, values: [5n] });
  // %n and suppressed conversions are not counted
  assert.deepEqual(sscanf('1 2 ab cd', '%*u %u %n%*s%n%c'), { ret: 2, values: [2n, 4, 6, ' '] });
});

test('sscanf: integer conversions truncate to their C type after strtol/strtoul', () => {
  assert.deepEqual(sscanf('4294967296 -1 18446744073709551616', '%u %u %lu').values, [0n, 4294967295n, 18446744073709551615n]);
  assert.deepEqual(sscanf('-1 2147483648', '%d %d').values, [-1n, -2147483648n]);
  assert.deepEqual(sscanf('ffffffff 80200001', '%x %X').values, [4294967295n, 2149580801n]);
  assert.deepEqual(sscanf('-5', '%lld').values, [-5n]);
  assert.deepEqual(sscanf('99999999999999999999', '%lld').values, [9223372036854775807n]);
  assert.deepEqual(sscanf('1ff', '%02hhx').values, [31n]); // width 2
  assert.deepEqual(sscanf('0x', '%02hhx'), { ret: 1, values: [0n] }); // "0x" prefix eats the width
  assert.equal(sscanf('zz', '%02hhx').ret, 0);
  assert.equal(sscanf('-', '%d').ret, 0);
});

test('sscanf: %s stops at whitespace or its width; literals must match', () => {
  assert.deepEqual(sscanf('abcdef ghi', '%3s%s').values, ['abc', 'def']);
  assert.deepEqual(sscanf('8:1', '%u:%u').values, [8n, 1n]);
  assert.deepEqual(sscanf('8-1', '%u:%u'), { ret: 1, values: [8n] });
  assert.deepEqual(sscanf('ata3', 'ata%d').values, [3n]);
  assert.deepEqual(sscanf('host-1', 'host%d').values, [-1n]);
});

test('strtoul/strtol/atoi', () => {
  assert.deepEqual(strtoul('  42xyz'), { value: 42n, end: 4 });
  assert.deepEqual(strtoul('-1'), { value: 18446744073709551615n, end: 2 });
  assert.deepEqual(strtoul('99999999999999999999'), { value: 18446744073709551615n, end: 20 });
  assert.deepEqual(strtoul('x'), { value: 0n, end: 0 });
  assert.equal(strtol('8000000\n', 16).value, 134217728n);
  assert.equal(strtol('0x10', 16).value, 16n);
  assert.equal(strtol('0xg', 16).value, 0n);
  assert.equal(strtol('-9999999999999999999').value, -9223372036854775808n);
  assert.equal(atoi('12abc'), 12);
  assert.equal(atoi(''), 0);
  assert.equal(atoi('4294967297'), 1);
});

test('inet_ntop: glibc text for IPv6 (checked against glibc through Python), dotted quads for IPv4', () => {
  const cases: [string, string][] = [
    ['00000000000000000000000000000000', '::'],
    ['00000000000000000000000000000001', '::1'],
    ['00000000000000000000ffff01020304', '::ffff:1.2.3.4'],
    ['00000000000000000000000001020304', '::1.2.3.4'],
    ['00010000000000000000000000000000', '1::'],
    ['00010000000000010000000000000001', '1:0:0:1::1'],
    ['00010000000100000001000000010000', '1:0:1:0:1:0:1:0'],
    ['fe8000000000000000fc00fffe000001', 'fe80::fc:ff:fe00:1'],
    ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
    ['00000000000000000000000100000000', '::1:0:0'],
    ['0000000000000000ffff000001020304', '::ffff:0:102:304'],
    ['000000000000000000000000ffff0000', '::255.255.0.0'],
    ['00000000000000000005000000010002', '::5:0:1:2'],
    ['ff0200000000000000000001ff000001', 'ff02::1:ff00:1'],
    ['00010002000300040005000600070008', '1:2:3:4:5:6:7:8'],
    ['00000000000100000000000000000000', '0:0:1::'],
  ];
  for (const [hex, text] of cases) assert.equal(inetNtop6(Buffer.from(hex, 'hex')), text, hex);
  assert.equal(inetNtop4(Uint8Array.of(192, 0, 2, 255)), '192.0.2.255');
});
