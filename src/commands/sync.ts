// guest-sync, guest-sync-delimited, guest-ping: the resync handshake and liveness check.
import type { AgentContext } from './context.ts';

export function guestSync(args: { id: bigint }): bigint {
  return args.id;
}

/** The dispatcher writes the 0xFF sentinel before this command's reply. */
export function guestSyncDelimited(args: { id: bigint }): bigint {
  return args.id;
}

export function guestPing(_args: unknown, ctx: AgentContext): Record<string, never> {
  ctx.log.audit('guest-ping called');
  return {};
}
