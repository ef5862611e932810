// --max-clients: several sessions share one dispatcher. Commands that change the guest pass the
// CommandGate one at a time, in arrival order; read-only ones run meanwhile; the frozen guard is
// checked when a command's turn comes. Recording handlers stand in for the real ones.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { commandTable } from '../../src/generated/qapi-commands.ts';
import { CommandFilter } from '../../src/protocol/command-filter.ts';
import { CommandGate } from '../../src/protocol/command-gate.ts';
import { Dispatcher, type AnyHandler } from '../../src/protocol/dispatcher.ts';
import { Session } from '../../src/protocol/session.ts';
import { DANGEROUS_COMMANDS } from '../support/agent.ts';

interface Held {
  name: string;
  finish(): void;
}

/** Handlers that record when they start and end, and end only when the test says so. */
function recorder() {
  const events: string[] = [];
  const held: Held[] = [];
  const slow =
    (name: string, after?: () => void): AnyHandler =>
    () => {
      events.push(`start ${name}`);
      return new Promise((resolve) => {
        held.push({
          name,
          finish: () => {
            events.push(`end ${name}`);
            after?.();
            resolve({});
          },
        });
      });
    };
  return { events, held, slow };
}

function agent(handlers: Record<string, AnyHandler>, gate: CommandGate | undefined, filter = new CommandFilter(null, [])) {
  const dispatcher = new Dispatcher(commandTable, handlers, filter, {}, { handlerCrash: () => {} }, gate);
  const connect = () => {
    const out: Buffer[] = [];
    const session = new Session(dispatcher, {
      write: (b) => out.push(typeof b === 'string' ? Buffer.from(b, 'latin1') : b),
      pause: () => {},
      resume: () => {},
    });
    return {
      send: (text: string) => session.feed(Buffer.from(text, 'latin1')),
      take: () => {
        const text = Buffer.concat(out).toString('latin1');
        out.length = 0;
        return text;
      },
    };
  };
  return { connect, filter };
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

describe('command gate (--max-clients)', () => {
  it('the schema marks queries read-only and commands that change the guest not', () => {
    for (const name of ['guest-ping', 'guest-sync', 'guest-sync-delimited', 'guest-info', 'guest-get-fsinfo', 'guest-fsfreeze-status']) {
      assert.equal(commandTable.get(name)?.readOnly, true, name);
    }
    for (const name of [...DANGEROUS_COMMANDS, 'guest-file-open', 'guest-file-write', 'guest-exec', 'guest-exec-status']) {
      assert.equal(commandTable.get(name)?.readOnly, false, name);
    }
  });

  it('runs state-changing commands of different connections one at a time, in arrival order', async () => {
    const r = recorder();
    const { connect } = agent(
      { 'guest-set-time': r.slow('set-time'), 'guest-set-vcpus': r.slow('set-vcpus'), 'guest-shutdown': r.slow('shutdown') },
      new CommandGate(),
    );
    const a = connect();
    const b = connect();
    const c = connect();
    a.send('{"execute":"guest-set-time","arguments":{"time":1}}');
    b.send('{"execute":"guest-set-vcpus","arguments":{"vcpus":[]}}');
    c.send('{"execute":"guest-shutdown"}');
    await settle();
    assert.deepEqual(r.events, ['start set-time'], 'the others wait for the first');
    r.held.shift()?.finish();
    await settle();
    assert.equal(a.take(), '{"return": {}}\n');
    assert.deepEqual(r.events, ['start set-time', 'end set-time', 'start set-vcpus']);
    r.held.shift()?.finish();
    await settle();
    r.held.shift()?.finish();
    await settle();
    assert.deepEqual(r.events, ['start set-time', 'end set-time', 'start set-vcpus', 'end set-vcpus', 'start shutdown', 'end shutdown']);
    assert.equal(b.take(), '{"return": {}}\n');
    assert.equal(c.take(), '', 'guest-shutdown answers nothing on success');
  });

  it('without a gate (one client, as qemu-ga) nothing is held back: the gate is what serialises', async () => {
    const r = recorder();
    const { connect } = agent({ 'guest-set-time': r.slow('set-time'), 'guest-set-vcpus': r.slow('set-vcpus') }, undefined);
    connect().send('{"execute":"guest-set-time","arguments":{"time":1}}');
    connect().send('{"execute":"guest-set-vcpus","arguments":{"vcpus":[]}}');
    await settle();
    assert.deepEqual(r.events, ['start set-time', 'start set-vcpus']);
    for (const h of r.held.splice(0)) h.finish();
  });

  it('read-only queries run while a state-changing command of another connection is under way', async () => {
    const r = recorder();
    const { connect } = agent(
      {
        'guest-fsfreeze-freeze': r.slow('freeze'),
        'guest-get-fsinfo': r.slow('fsinfo'),
        'guest-ping': () => ({}),
      },
      new CommandGate(),
    );
    const backup = connect();
    const monitor = connect();
    backup.send('{"execute":"guest-fsfreeze-freeze"}');
    monitor.send('{"execute":"guest-ping"}{"execute":"guest-get-fsinfo"}');
    await settle();
    assert.equal(monitor.take(), '{"return": {}}\n');
    assert.deepEqual(r.events, ['start freeze', 'start fsinfo']);
    r.held.find((h) => h.name === 'fsinfo')?.finish();
    await settle();
    assert.equal(monitor.take(), '{"return": {}}\n');
    assert.deepEqual(r.events, ['start freeze', 'start fsinfo', 'end fsinfo'], 'the query finished while the freeze still ran');
    r.held.find((h) => h.name === 'freeze')?.finish();
    await settle();
    assert.equal(backup.take(), '{"return": {}}\n');
  });

  it('checks the frozen guard when a waiting command gets its turn', async () => {
    const r = recorder();
    const filter = new CommandFilter(null, []);
    const { connect } = agent(
      { 'guest-fsfreeze-freeze': r.slow('freeze', () => (filter.frozen = true)), 'guest-set-time': r.slow('set-time') },
      new CommandGate(),
      filter,
    );
    const a = connect();
    const b = connect();
    a.send('{"execute":"guest-fsfreeze-freeze"}');
    b.send('{"execute":"guest-set-time","id":7}');
    await settle();
    r.held.shift()?.finish();
    await settle();
    assert.equal(
      b.take(),
      '{"id": 7, "error": {"class": "CommandNotFound", "desc": "Command guest-set-time has been disabled: the command is not allowed"}}\n',
    );
    assert.deepEqual(r.events, ['start freeze', 'end freeze']);
  });

  it('a handler that throws, or a synchronous one, hands the gate on', async () => {
    const gate = new CommandGate();
    assert.throws(() =>
      gate.run(() => {
        throw new Error('boom');
      }),
    );
    assert.equal(gate.run(() => 5), 5);
    let release!: () => void;
    const first = gate.run(() => new Promise<number>((res) => (release = () => res(1))));
    const second = gate.run(() => 2);
    assert.equal(gate.queued, 1);
    release();
    assert.equal(await first, 1);
    assert.equal(await second, 2);
    assert.equal(gate.queued, 0);
  });

  it('keeps each connection framing its own input: a guest-sync-delimited on one leaves another half-sent request alone', async () => {
    const { connect } = agent({ 'guest-sync-delimited': (x: { id: bigint }) => x.id, 'guest-ping': () => ({}) }, new CommandGate());
    const a = connect();
    const b = connect();
    b.send('{"execute":');
    a.send('{"execute":"guest-pi');
    // A's client resynchronises: 0xFF throws away A's half request (with an error reply), not B's.
    a.send('\xff{"execute":"guest-sync-delimited","arguments":{"id":42}}');
    await settle();
    assert.match(a.take(), /^\{"error": [^\n]*\}\n\xff\{"return": 42\}\n$/);
    b.send('"guest-ping"}');
    await settle();
    assert.equal(b.take(), '{"return": {}}\n');
  });
});
