// guest-set-user-password (docs/compatibility.md §Commands, 10.2): chpasswd (`-e` for a crypted password), fed
// `<username>:<password>\n` on stdin through the 10.2 child helper. Nothing that could start a second
// line or move the `:` gets through: a password with LF and a username with LF or `:` are refused with
// qemu-ga's texts. The password is a C string in qemu-ga: it ends at its first NUL byte.
import type { GuestSetUserPasswordArgs } from '../generated/qapi-types.ts';
import { genericError } from '../protocol/errors.ts';
import { decodeBase64 } from '../protocol/base64.ts';
import { cBytes } from '../platform/linux/runner.ts';
import type { AgentContext } from './context.ts';
import { services } from './services.ts';

/** The chpasswd input line, or qemu-ga's error. */
export function chpasswdInput(username: string, passwordB64: string): Buffer {
  const raw = decodeBase64(passwordB64);
  const nul = raw.indexOf(0);
  const password = nul < 0 ? raw : raw.subarray(0, nul);
  if (password.indexOf(0x0a) >= 0) throw genericError('forbidden characters in raw password');
  if (username.includes('\n') || username.includes(':')) throw genericError('forbidden characters in username');
  return Buffer.concat([cBytes(username), Buffer.from(':'), password, Buffer.from('\n')]);
}

export async function guestSetUserPassword(args: GuestSetUserPasswordArgs, ctx: AgentContext): Promise<Record<string, never>> {
  const sys = services(ctx);
  const input = chpasswdInput(args.username, args.password);
  const argv = args.crypted ? ['chpasswd', '-e'] : ['chpasswd'];
  await sys.runner.run(argv, { action: 'set user password', input });
  return {};
}
