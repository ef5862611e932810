// The same bytes to qga-ts and to Debian's qemu-ga; the replies must match byte for byte,
// after the intended differences (10.2 texts where 7.2 differs, see shared/harness/TARGET.md).
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { Agent, QEMU_GA, QGA_TS, haveQemuGa } from '../support/agent.ts';

interface Case {
  name: string;
  /** Chunks sent one after another (latin1; \xff is the 0xFF byte). */
  send: string[];
  /** Values that legitimately differ between two runs (times, loads) are masked. */
  mask?: RegExp;
  /** Turns qemu-ga 7.2's reply into the 10.2 reply we target. */
  to102?: (reply: string) => string;
}

const big = 'x'.repeat(1 << 20);

export const CASES: Case[] = [
  { name: 'ping', send: ['{"execute":"guest-ping"}'] },
  { name: 'ping no newline then newline', send: ['{"execute":"guest-ping"}', '\n'] },
  { name: 'sync int64 max', send: ['{"execute":"guest-sync","arguments":{"id":9223372036854775807}}'] },
  { name: 'sync int64 min', send: ['{"execute":"guest-sync","arguments":{"id":-9223372036854775808}}'] },
  { name: 'sync 63-bit random', send: ['{"execute":"guest-sync","arguments":{"id":6917529027641081857}}'] },
  { name: 'sync above int64', send: ['{"execute":"guest-sync","arguments":{"id":9223372036854775808}}'] },
  { name: 'sync float', send: ['{"execute":"guest-sync","arguments":{"id":1.0}}'] },
  { name: 'sync string', send: ['{"execute":"guest-sync","arguments":{"id":"5"}}'] },
  { name: 'sync -0', send: ['{"execute":"guest-sync","arguments":{"id":-0}}'] },
  { name: 'sync missing id', send: ['{"execute":"guest-sync"}'] },
  { name: 'sync null id', send: ['{"execute":"guest-sync","arguments":{"id":null}}'] },
  { name: 'sync-delimited', send: ['{"execute":"guest-sync-delimited","arguments":{"id":77}}'] },
  { name: 'sync-delimited bad id', send: ['{"execute":"guest-sync-delimited","arguments":{"id":true}}'] },
  { name: 'sync-delimited with id echo', send: ['{"execute":"guest-sync-delimited","arguments":{"id":1},"id":"x"}'] },
  { name: 'ff then sync-delimited', send: ['\xff{"execute":"guest-sync-delimited","arguments":{"id":3}}'] },
  { name: 'ff alone', send: ['\xff'] },
  { name: 'ff ff', send: ['\xff\xff'] },
  { name: 'fe', send: ['\xfe'] },
  { name: 'ff inside request', send: ['{"execute":"gue\xffst-ping"}'] },
  { name: 'ff inside string then ping', send: ['{"execute":"guest-\xff', '{"execute":"guest-ping"}'] },
  { name: 'unknown command', send: ['{"execute":"guest-nope"}'] },
  { name: 'unknown command with id', send: ['{"execute":"nope","id":7}'] },
  { name: 'get-devices absent', send: ['{"execute":"guest-get-devices"}'], to102: (r) => r.replace('Command guest-get-devices has been disabled"}}', 'The command guest-get-devices has not been found"}}').replace('GenericError', 'CommandNotFound') },
  { name: 'command case', send: ['{"execute":"GUEST-PING"}'] },
  { name: 'empty command', send: ['{"execute":""}'] },
  { name: 'extra argument', send: ['{"execute":"guest-ping","arguments":{"foo":42}}'] },
  { name: 'arguments array', send: ['{"execute":"guest-ping","arguments":[]}'] },
  { name: 'arguments null', send: ['{"execute":"guest-ping","arguments":null}'] },
  { name: 'execute number', send: ['{"execute":5}'] },
  { name: 'no execute', send: ['{}'] },
  { name: 'exec-oob', send: ['{"exec-oob":"guest-ping"}'] },
  { name: 'unknown member', send: ['{"execute":"guest-ping","foo":1}'] },
  { name: 'unknown member with id', send: ['{"execute":"guest-ping","foo":1,"id":5}'] },
  { name: 'non-object array', send: ['[1,2]'] },
  { name: 'non-object string', send: ['"str"'] },
  { name: 'non-object number', send: ['123\n'] },
  { name: 'non-object keywords', send: ['true null false\n'] },
  { name: 'id string', send: ['{"execute":"guest-ping","id":"abc"}'] },
  { name: 'id object order', send: ['{"execute":"guest-ping","id":{"x":1,"a":2,"zz":3,"return":4}}'] },
  { name: 'id nested', send: ['{"execute":"guest-ping","id":{"a":[1,2.5,null,true]}}'] },
  { name: 'id numbers', send: ['{"execute":"guest-ping","id":[1.5e3,-0,0.1,123456789012345678901234567890,-9223372036854775809,18446744073709551615,1E2,-0.0015,1e-7]}'] },
  { name: 'id unicode', send: ['{"execute":"guest-ping","id":"\xc3\xa9\xf0\x9f\x98\x80\\u00e9\\ud83d\\ude00\\u0000\\u001f\x7f/"}'] },
  { name: 'id before execute', send: ['{"id":7,"execute":"guest-ping"}'] },
  { name: 'single quotes', send: ["{'execute':'guest-sync','arguments':{'id':5}}"] },
  { name: 'single-quote escapes', send: ["{'execute':'guest-ping','id':'it\\'s \"q\"'}"] },
  { name: 'bad keyword', send: ['{"execute":"guest-ping","id":tru}'] },
  { name: 'bare keyword', send: ['foo\n'] },
  { name: 'uppercase stray', send: ['X{"execute":"guest-ping"}'] },
  { name: 'stray then close', send: ['X}'] },
  { name: 'stray number', send: ['01\n', '-x\n'] },
  { name: 'percent', send: ['%'] },
  { name: 'trailing comma', send: ['{"execute":"guest-ping",}'] },
  { name: 'list trailing comma', send: ['[1,]'] },
  { name: 'missing colon', send: ['{"execute" "guest-ping"}'] },
  { name: 'key not string', send: ['{1:2}'] },
  { name: 'missing separator dict', send: ['{"a":1 "b":2}'] },
  { name: 'missing separator list', send: ['[1 2]'] },
  { name: 'duplicate key', send: ['{"execute":"guest-ping","execute":"guest-ping"}'] },
  { name: 'unbalanced close', send: ['}', ']'] },
  { name: 'trailing garbage', send: ['{"a":1}}'] },
  { name: 'nested close', send: ['[[]]]'] },
  { name: 'invalid escape', send: ['{"execute":"x\\qy"}'] },
  { name: 'lone surrogate', send: ['{"execute":"guest-ping","id":"\\ud800"}'] },
  { name: 'short unicode escape', send: ['{"execute":"guest-ping","id":"\\u12"}'] },
  { name: 'noncharacter escape', send: ['{"execute":"guest-ping","id":"\\uffff"}'] },
  { name: 'invalid utf8', send: ['{"execute":"guest-ping","id":"\xc3\x28"}'] },
  { name: 'overlong utf8', send: ['{"execute":"guest-ping","id":"\xc1\xbf"}'] },
  { name: 'modified utf8 nul', send: ['{"execute":"guest-ping","id":"a\xc0\x80b"}'] },
  { name: 'encoded surrogate', send: ['{"execute":"guest-ping","id":"\xed\xa0\x80"}'] },
  { name: 'control char in string', send: ['{"execute":"guest-ping","id":"a\x01b"}'] },
  { name: 'raw newline in string', send: ['{"execute":"guest-ping","id":"a\nb"}'] },
  { name: 'nul byte', send: ['\x00'] },
  { name: 'NaN', send: ['{"execute":"guest-ping","id":NaN}'] },
  { name: 'split request', send: ['{"exec', 'ute":"guest-', 'ping"}'] },
  { name: 'split utf8', send: ['{"execute":"guest-ping","id":"\xc3', '\xa9"}'] },
  { name: 'two in one write', send: ['{"execute":"guest-ping","id":1}{"execute":"guest-ping","id":2}'] },
  { name: 'pretty printed', send: ['{\r\n  "execute" :\t"guest-ping",\n  "id" : 3\n}\r\n'] },
  { name: 'deep nesting 1024', send: ['['.repeat(1024) + ']'.repeat(1024)] },
  { name: 'deep nesting 1025', send: ['['.repeat(1025) + ']'.repeat(1025)] },
  { name: 'huge string 1 MiB', send: [`{"execute":"guest-ping","id":"${big}"}`] },
  { name: 'host name', send: ['{"execute":"guest-get-host-name"}'] },
  { name: 'timezone', send: ['{"execute":"guest-get-timezone"}'] },
  { name: 'osinfo', send: ['{"execute":"guest-get-osinfo"}'] },
  { name: 'get-time', send: ['{"execute":"guest-get-time"}'], mask: /"return": \d+/g },
  { name: 'get-time with args', send: ['{"execute":"guest-get-time","arguments":{"x":1}}'] },
  { name: 'info with extra argument', send: ['{"execute":"guest-info","arguments":{"a":1}}'] },
];

const MARKER = 987654321987654321n;

async function transcript(agent: Agent, c: Case): Promise<string> {
  const client = await agent.connect();
  try {
    await client.resync();
    for (const chunk of c.send) {
      client.send(chunk);
      await new Promise((r) => setTimeout(r, 5));
    }
    // A lone scalar completes only when the next byte arrives; the marker provides it.
    let text = await client.untilMarker(MARKER);
    if (c.mask) text = text.replace(c.mask, (m) => m.replace(/\d+(\.\d+)?/g, 'N'));
    return text;
  } finally {
    client.close();
  }
}

describe('differential: qga-ts vs Debian qemu-ga', { skip: haveQemuGa ? false : 'qemu-ga is not installed (apt-get install qemu-guest-agent)' }, () => {
  let ours: Agent;
  let ref: Agent;
  before(async () => {
    ours = await Agent.start(QGA_TS);
    ref = await Agent.start([QEMU_GA]);
  });
  after(async () => {
    await ours.stop();
    await ref.stop();
    ours.cleanup();
    ref.cleanup();
  });
  for (const c of CASES) {
    it(c.name, async () => {
      const expected = await transcript(ref, c);
      const actual = await transcript(ours, c);
      assert.equal(actual, c.to102 ? c.to102(expected) : expected);
    });
  }
});
