// guest-info: the version and every registered command with its current enabled state.
import { QGA_VERSION } from '../agent/version.ts';
import type { AgentContext } from './context.ts';

interface CommandInfo {
  enabled: boolean;
  name: string;
  'success-response': boolean;
}

export function guestInfo(_args: unknown, ctx: AgentContext): { version: string; supported_commands: CommandInfo[] } {
  const list: CommandInfo[] = [];
  for (const c of ctx.commands.values()) {
    list.push({ name: c.name, enabled: ctx.filter.isEnabled(c.name), 'success-response': c.successResponse });
  }
  // qemu-ga lists commands in reverse registration order.
  list.reverse();
  return { version: QGA_VERSION, supported_commands: list };
}
