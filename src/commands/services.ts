// The guard every system-control handler starts with.
import { unsupported } from '../protocol/errors.ts';
import type { AgentContext, SystemServices } from './context.ts';

/** The services, or qemu-ga's unsupported error when the context has none (unit tests without fakes). */
export function services(ctx: AgentContext): SystemServices {
  if (ctx.sys === undefined) throw unsupported();
  return ctx.sys;
}
