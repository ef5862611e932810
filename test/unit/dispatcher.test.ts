// Dispatcher and session: envelope checks, filters, id echo, success-response:false, the 0xFF
// delimiter, ordering of async replies, and the unsupported answer of not-yet-implemented commands.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { commandTable } from '../../src/generated/qapi-commands.ts';
import { CommandFilter } from '../../src/protocol/command-filter.ts';
import { Dispatcher, type AnyHandler } from '../../src/protocol/dispatcher.ts';
import { Session } from '../../src/protocol/session.ts';
import { genericError, unsupported } from '../../src/protocol/errors.ts';

function harness(handlers: Record<string, AnyHandler>, filter = new CommandFilter(null, [])) {
  const crashes: string[] = [];
  const dispatcher = new Dispatcher(commandTable, handlers, filter, {}, { handlerCrash: (c) => crashes.push(c) });
  const written: Buffer[] = [];
  const session = new Session(dispatcher, { write: (b) => written.push(typeof b === 'string' ? Buffer.from(b, 'latin1') : b), pause: () => {}, resume: () => {} });
  const run = async (input: string): Promise<string> => {
    session.feed(Buffer.from(input, 'latin1'));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    const out = Buffer.concat(written).toString('latin1');
    written.length = 0;
    return out;
  };
  return { run, crashes, filter };
}

const base: Record<string, AnyHandler> = {
  'guest-ping': () => ({}),
  'guest-sync': (a: { id: bigint }) => a.id,
  'guest-sync-delimited': (a: { id: bigint }) => a.id,
  'guest-shutdown': () => undefined,
  'guest-get-users': () => {
    throw unsupported();
  },
};

describe('dispatcher', () => {
  it('answers not-yet-implemented commands with qemu-ga unsupported error, with the id', async () => {
    const { run } = harness(base);
    assert.equal(
      await run('{"execute":"guest-get-users","id":3}'),
      '{"id": 3, "error": {"class": "GenericError", "desc": "this feature or command is not currently supported"}}\n',
    );
  });

  it('checks envelope members in qemu-ga hash order', async () => {
    const { run } = harness(base);
    // exec-oob comes before execute in bucket order, so it wins even when listed last.
    assert.equal(
      await run('{"execute":5,"exec-oob":"x"}'),
      '{"error": {"class": "GenericError", "desc": "QMP input member \'exec-oob\' is unexpected"}}\n',
    );
    assert.equal(
      await run('{"arguments":[],"execute":7}'),
      '{"error": {"class": "GenericError", "desc": "QMP input member \'execute\' must be a string"}}\n',
    );
  });

  it('sends nothing for a successful success-response:false command, but reports its errors', async () => {
    const { run } = harness({ ...base, 'guest-shutdown': (a: { mode?: string }) => { if (a.mode) throw genericError('bad mode'); } });
    assert.equal(await run('{"execute":"guest-shutdown","id":1}'), '');
    assert.equal(await run('{"execute":"guest-shutdown","arguments":{"mode":"x"},"id":1}'), '{"id": 1, "error": {"class": "GenericError", "desc": "bad mode"}}\n');
  });

  it('prefixes only a successful guest-sync-delimited reply with 0xFF', async () => {
    const { run } = harness(base);
    assert.equal(await run('{"execute":"guest-sync-delimited","arguments":{"id":18446744073709551615}}'),
      '{"error": {"class": "GenericError", "desc": "Invalid parameter type for \'id\', expected: integer"}}\n');
    assert.equal(await run('{"execute":"guest-sync-delimited","arguments":{"id":-5}}'), '\xff{"return": -5}\n');
  });

  it('keeps replies in request order when a command is asynchronous', async () => {
    const slow: AnyHandler = () => new Promise((r) => setTimeout(() => r(1n), 20));
    const { run } = harness({ ...base, 'guest-sync': slow });
    const out = await run('{"execute":"guest-sync","arguments":{"id":1}}X{"execute":"guest-ping"}');
    await new Promise((r) => setTimeout(r, 40));
    const rest = await run('');
    assert.equal(out + rest, '{"return": 1}\n{"error": {"class": "GenericError", "desc": "JSON parse error, stray \'X\'"}}\n{"return": {}}\n');
  });

  it('turns a handler bug into a GenericError and keeps serving', async () => {
    const { run, crashes } = harness({ ...base, 'guest-ping': () => { throw new TypeError('boom'); } });
    assert.equal(await run('{"execute":"guest-ping"}'), '{"error": {"class": "GenericError", "desc": "boom"}}\n');
    assert.deepEqual(crashes, ['guest-ping']);
    assert.equal(await run('{"execute":"guest-sync","arguments":{"id":2}}'), '{"return": 2}\n');
  });

  it('applies -a, -b and the frozen allowlist (10.2 rules)', async () => {
    const filter = new CommandFilter(['guest-sync'], ['guest-sync']);
    const { run } = harness(base, filter);
    const disabled = (c: string) => `{"error": {"class": "CommandNotFound", "desc": "Command ${c} has been disabled: the command is not allowed"}}\n`;
    assert.equal(await run('{"execute":"guest-sync","arguments":{"id":1}}'), disabled('guest-sync'));
    assert.equal(await run('{"execute":"guest-ping"}'), disabled('guest-ping'));
    filter.frozen = true;
    assert.equal(await run('{"execute":"guest-ping"}'), '{"return": {}}\n', 'allowlisted while frozen even if -a omitted it');
    assert.equal(await run('{"execute":"guest-get-users"}'), disabled('guest-get-users'));
  });
});
