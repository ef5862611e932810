// Compile-time checks of the typed client surface (tsc -p tsconfig.json checks this file);
// the runtime part only makes sure the module loads.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { QgaClient } from '../../src/client/index.ts';

export async function typeChecks(c: QgaClient): Promise<unknown[]> {
  const ping: void = await c.execute('guest-ping');
  const time: bigint = await c.execute('guest-get-time');
  const read = await c.execute('guest-file-read', { handle: 1, count: 10n });
  const count: bigint = read.count;
  // @ts-expect-error a required argument is missing
  await c.execute('guest-file-read');
  // @ts-expect-error a member of the wrong type
  await c.guestFileOpen({ path: 1 });
  const users = await c.guestGetUsers();
  const loginTime: number = users[0]!['login-time'];
  const handle: bigint = await c.guestFileOpen({ path: '/x', mode: 'r' });
  await c.guestFileSeek({ handle, offset: -1, whence: 'end' });
  await c.guestFileSeek({ handle, offset: 0n, whence: 2 });
  const stats = await c.guestGetCpustats();
  const user: bigint = stats[0]!.user;
  await c.guestShutdown();
  await c.guestShutdown({ mode: 'halt' }, { noReplyGrace: 10 });
  return [ping, time, count, loginTime, user];
}

it('the typed client surface loads', () => {
  assert.equal(typeof QgaClient.prototype.guestFileRead, 'function');
  assert.equal(typeof QgaClient.prototype.execute, 'function');
});
