// Verbs that change the guest: freeze, thaw, frozen, fstrim, shutdown, reboot, suspend.

import { formatSize, formatTable, parseSize } from '../../format.ts';
import { UsageError, type Ctx, type Verb } from '../verb.ts';
import type { ClientCommandName, GuestFilesystemTrimResponse } from '../../../generated/qapi-client.ts';

async function noReply(ctx: Ctx, command: ClientCommandName, args?: object): Promise<number> {
  const c = await ctx.client();
  await c.call(command, args);
  if (ctx.json) ctx.printJson({});
  return 0;
}

export const freeze: Verb = {
  name: 'freeze',
  synopsis: '[MOUNTPOINT...]',
  summary: "freeze the guest's filesystems, or only these (guest-fsfreeze-freeze[-list])",
  details: 'Thaw them with the thaw verb. The per-call timeout defaults to 1 hour here.',
  operands: [0, Infinity],
  defaultTimeout: 3600,
  async run(ctx, _values, mountpoints) {
    const { raw, value } =
      mountpoints.length === 0 ? await ctx.fetch('guest-fsfreeze-freeze') : await ctx.fetch('guest-fsfreeze-freeze-list', { mountpoints });
    if (ctx.json) return ctx.printJson(raw), 0;
    ctx.out(`${value} filesystems frozen`);
    return 0;
  },
};

export const thaw: Verb = {
  name: 'thaw',
  synopsis: '',
  summary: "thaw the guest's filesystems (guest-fsfreeze-thaw)",
  details: 'The per-call timeout defaults to 3 minutes here.',
  operands: [0, 0],
  defaultTimeout: 180,
  async run(ctx) {
    const { raw, value } = await ctx.fetch('guest-fsfreeze-thaw');
    if (ctx.json) return ctx.printJson(raw), 0;
    ctx.out(`${value} filesystems thawed`);
    return 0;
  },
};

export const frozen: Verb = {
  name: 'frozen',
  synopsis: '',
  summary: 'whether the filesystems are frozen: prints thawed or frozen (guest-fsfreeze-status)',
  operands: [0, 0],
  async run(ctx) {
    const { raw, value } = await ctx.fetch('guest-fsfreeze-status');
    if (ctx.json) return ctx.printJson(raw), 0;
    ctx.out(String(value));
    return 0;
  },
};

export const fstrim: Verb = {
  name: 'fstrim',
  synopsis: '',
  summary: 'discard unused blocks of the mounted filesystems (guest-fstrim)',
  details: 'The per-call timeout defaults to 10 minutes here.',
  options: { minimum: { type: 'string', value: 'BYTES', help: 'skip free extents smaller than this' } },
  operands: [0, 0],
  defaultTimeout: 600,
  async run(ctx, values) {
    let args: object | undefined;
    if (values.minimum !== undefined) {
      const n = parseSize(String(values.minimum));
      if (n === null) throw new UsageError(`invalid --minimum '${values.minimum}'`);
      args = { minimum: n };
    }
    const { raw, value } = await ctx.fetch('guest-fstrim', args);
    if (ctx.json) return ctx.printJson(raw), 0;
    const rows = (value as GuestFilesystemTrimResponse).paths.map((p) => [
      p.path,
      p.trimmed === undefined ? '-' : formatSize(p.trimmed),
      p.minimum === undefined ? '-' : String(p.minimum),
      p.error ?? '',
    ]);
    ctx.out(formatTable(['PATH', 'TRIMMED', 'MINIMUM', 'ERROR'], rows));
    return 0;
  },
};

export const shutdown: Verb = {
  name: 'shutdown',
  synopsis: '[--mode powerdown|halt|reboot]',
  summary: 'shut the guest down (guest-shutdown; no answer on success)',
  options: { mode: { type: 'string', value: 'MODE', help: 'powerdown (default), halt or reboot' } },
  operands: [0, 0],
  async run(ctx, values) {
    return noReply(ctx, 'guest-shutdown', values.mode === undefined ? undefined : { mode: String(values.mode) });
  },
};

export const reboot: Verb = {
  name: 'reboot',
  synopsis: '',
  summary: 'reboot the guest (guest-shutdown mode reboot)',
  operands: [0, 0],
  async run(ctx) {
    return noReply(ctx, 'guest-shutdown', { mode: 'reboot' });
  },
};

export const suspend: Verb = {
  name: 'suspend',
  synopsis: 'disk|ram|hybrid',
  summary: 'suspend the guest (guest-suspend-*; no answer on success)',
  operands: [1, 1],
  async run(ctx, _values, [mode]) {
    if (mode !== 'disk' && mode !== 'ram' && mode !== 'hybrid') throw new UsageError(`invalid suspend mode '${mode}' (disk, ram or hybrid)`);
    return noReply(ctx, `guest-suspend-${mode}`);
  },
};
