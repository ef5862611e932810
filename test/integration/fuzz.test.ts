// Random bytes and random requests against a live qga-ts: it must never crash or hang,
// and 0xFF + guest-sync-delimited must always bring it back to answering guest-ping.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { Agent, QGA_TS } from '../support/agent.ts';

const COMMANDS = ['guest-ping', 'guest-sync', 'guest-sync-delimited', 'guest-info', 'guest-get-time', 'guest-get-osinfo',
  'guest-set-vcpus', 'guest-file-seek', 'guest-set-memory-blocks', 'guest-nope'];

/** Requests whose arguments are random JSON: they exercise the argument visitors, and never pass
 * validation for the commands that could change this machine (the values are random). */
const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null), fc.boolean(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string(), fc.bigInt({ min: -(1n << 64n), max: 1n << 64n }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom('id', 'path', 'mode', 'vcpus', 'whence', 'handle', 'offset', 'capture-output', 'x'), tie('value'), { maxKeys: 4 }),
  ),
})).value;

function encode(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `@@${x}@@` : x)).replace(/"@@(-?\d+)@@"/g, '$1');
}

// Commands that change the machine only ever get arguments that fail validation.
const MUST_FAIL_VALIDATION: Record<string, unknown> = {
  'guest-set-vcpus': { vcpus: 1 },
  'guest-set-memory-blocks': { 'mem-blks': 1 },
};

describe('fuzz: live agent', () => {
  let agent: Agent;
  before(async () => {
    agent = await Agent.start(QGA_TS);
  });
  after(async () => {
    assert.equal(await agent.stop(), 0);
    agent.cleanup();
  });

  async function stillAnswers(): Promise<void> {
    const c = await agent.connect();
    try {
      await c.resync(BigInt(Math.floor(Math.random() * 2 ** 52)));
      c.send('{"execute":"guest-ping"}');
      assert.deepEqual(await c.lines(1), ['{"return": {}}']);
    } finally {
      c.close();
    }
  }

  it('survives random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 512 }), { maxLength: 6 }), async (chunks) => {
        const c = await agent.connect();
        for (const chunk of chunks) c.send(chunk);
        c.close();
        await stillAnswers();
      }),
      { numRuns: 150 },
    );
  });

  it('survives random requests with random arguments', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...COMMANDS), jsonValue, fc.option(jsonValue), async (execute, args, id) => {
        const c = await agent.connect();
        await c.resync();
        const request: Record<string, unknown> = { execute, arguments: MUST_FAIL_VALIDATION[execute] ?? args };
        if (id !== null) request.id = id;
        c.send(encode(request));
        const text = await c.untilMarker(123456789n);
        for (const line of text.split('\n').filter(Boolean)) assert.match(line.replace(/^\xff/, ''), /^\{"(return|id|error)"/);
        c.close();
      }),
      { numRuns: 300 },
    );
    await stillAnswers();
  });
});
