// `-v` debug lines about the channel: the bytes read logged as they are (0xFF, UTF-8, cut at a NUL),
// `process_event: called`, `processing command`, `sending data, count: <n>`, `disabling command: <name>`;
// literally, and against qemu-ga's own log for the same bytes.
import { describe, it } from 'node:test';
import { commandTable } from '../../src/generated/qapi-commands.ts';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Agent, QEMU_GA, QGA_TS, haveQemuGa } from '../support/agent.ts';

/** Request bytes sent one part at a time, each part waited on until its replies (count) arrived. */
const PARTS: [Buffer, number][] = [
  [Buffer.from('[1]\n', 'latin1'), 1],
  [Buffer.from('{"execute":"guest-ping","id":"a\x00b"}\n', 'latin1'), 2],
  [Buffer.from('{"execute":"guest-ping", "id": "\xc3\xa9"}', 'latin1'), 1],
  [Buffer.from('{"execute":"guest-ping"}\n{"execute":"guest-info", "id": "\xc3\xa9\xff"}\n\xff{"execute":"guest-sync-delimited","arguments":{"id":1}}{"execute":"nope"}', 'latin1'), 6],
];

/** The log of one run, timestamps and the version line removed, as raw bytes (latin1 text). */
async function verboseLog(command: readonly string[], parts: [Buffer, number][], args: string[] = []): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-verbose-'));
  const log = path.join(dir, 'agent.log');
  const agent = await Agent.start(command, { dir, args: ['-v', '-l', log, ...args] });
  try {
    const c = await agent.connect();
    let want = 0;
    for (const [bytes, replies] of parts) {
      want += replies;
      c.send(bytes);
      const got = await c.waitFor((b) => b.toString('latin1').split('\n').length - 1 >= want);
      assert.ok(got.toString('latin1').split('\n').length - 1 >= want, `replies to part ${want}`);
    }
    c.close();
    await new Promise((r) => setTimeout(r, 200));
    await agent.stop();
    return fs
      .readFileSync(log)
      .toString('latin1')
      .split('\n')
      .filter((l) => !l.includes('Guest agent version'))
      .map((l) => l.replace(/^\d+\.\d{6}: /, ''))
      .join('\n');
  } finally {
    await agent.stop();
    agent.cleanup();
  }
}

describe('-v: the channel as qemu-ga logs it', () => {
  it('logs the bytes read as they are, and each event, command and reply', async () => {
    const text = await verboseLog(QGA_TS, PARTS);
    const expected = [
      'debug: received EOF', // the readiness probe's connection
      'debug: read data, count: 4, data: [1]',
      '',
      'debug: process_event: called',
      'debug: processing command',
      'debug: sending data, count: 80',
      'debug: read data, count: 36, data: {"execute":"guest-ping","id":"a', // C's %s stops at the NUL
      'debug: process_event: called',
      'debug: sending data, count: 78',
      'debug: process_event: called',
      'debug: sending data, count: 82',
      'debug: read data, count: 36, data: {"execute":"guest-ping", "id": "\xc3\xa9"}',
      'debug: process_event: called',
      'debug: processing command',
      'debug: sending data, count: 31',
      'debug: read data, count: 137, data: {"execute":"guest-ping"}',
      '{"execute":"guest-info", "id": "\xc3\xa9\xff"}',
      '\xff{"execute":"guest-sync-delimited","arguments":{"id":1}}{"execute":"nope"}',
      'debug: process_event: called',
      'debug: processing command',
      'debug: sending data, count: 15',
      ...['89', '82', '81'].flatMap((n) => ['debug: process_event: called', `debug: sending data, count: ${n}`]),
      'debug: process_event: called',
      'debug: processing command',
      'debug: sending data, count: 15', // the 0xFF delimiter is part of the count
      'debug: process_event: called',
      'debug: processing command',
      'debug: sending data, count: 87',
      'debug: received EOF',
      'debug: received signal num 15, quitting',
      '',
    ];
    assert.equal(text, expected.join('\n'));
  });

  it('reads of more than 4096 bytes are logged 4096 bytes at a time, as qemu-ga reads them', async () => {
    const big = Buffer.from(`{"execute":"guest-sync","arguments":{"id":1},"id":"${'x'.repeat(9000)}"}\n`, 'latin1');
    const text = await verboseLog(QGA_TS, [[big, 1]]);
    const counts = [...text.matchAll(/read data, count: (\d+)/g)].map((m) => Number(m[1]));
    assert.equal(counts.reduce((a, b) => a + b, 0), big.length);
    assert.ok(counts.every((n) => n <= 4096), counts.join(','));
  });

  it('-a and -b: one `disabling command` line per command, in registration order', async () => {
    const b = await verboseLog(QGA_TS, [], ['-b', 'guest-info,guest-ping']);
    assert.deepEqual(b.split('\n').filter((l) => l.includes('command:')), ['debug: disabling command: guest-ping', 'debug: disabling command: guest-info']);
    const a = await verboseLog(QGA_TS, [], ['-a', 'guest-info,guest-ping']);
    const disabled = a.split('\n').filter((l) => l.includes('disabling command:'));
    // Every command built on Linux (qemu-ga's 43 and the qga-ts extensions) but the two allowed.
    assert.equal(disabled.length, commandTable.size - 2);
    assert.equal(disabled[0], 'debug: disabling command: guest-sync-delimited');
    assert.ok(!disabled.some((l) => /guest-(ping|info)$/.test(l)));
  });

  it('the same lines as qemu-ga for the same bytes', { skip: haveQemuGa ? false : `${QEMU_GA} is not installed` }, async () => {
    const ours = await verboseLog(QGA_TS, PARTS);
    // 7.2 blocks guest-get-devices on Linux; 10.2, which qga-ts follows, does not build it there.
    const ref = (await verboseLog([QEMU_GA], PARTS)).replace('debug: disabling command: guest-get-devices\n', '');
    assert.equal(ours, ref);
  });
});
