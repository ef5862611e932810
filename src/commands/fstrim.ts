// guest-fstrim (docs/compatibility.md §Commands): FITRIM on every mount of mounts.ts's list, results prepended (so the reply is
// in reverse mount order), one failure never failing the command.
import * as fs from 'node:fs';
import type { GuestFilesystemTrimResponse, GuestFilesystemTrimResult, GuestFstrimArgs } from '../generated/qapi-types.ts';
import { buildFsMountList } from '../platform/linux/mounts.ts';
import { rooted } from '../platform/linux/paths.ts';
import { strerror } from '../platform/linux/strerror.ts';
import type { AgentContext } from './context.ts';
import { services } from './services.ts';

const ENOTTY = 25;
const EOPNOTSUPP = 95;

export function guestFstrim(args: GuestFstrimArgs, ctx: AgentContext): GuestFilesystemTrimResponse {
  const sys = services(ctx);
  ctx.log.audit('guest-fstrim called');
  const mounts = buildFsMountList(ctx.root);
  // r.minlen is a __u64: a negative minimum reaches the kernel as its two's complement.
  const minlen = BigInt.asUintN(64, args.minimum ?? 0n);
  const paths: GuestFilesystemTrimResult[] = [];
  for (const m of mounts) {
    const result: GuestFilesystemTrimResult = { path: m.dirname };
    paths.unshift(result);
    let fd: number;
    try {
      fd = fs.openSync(rooted(ctx.root, m.dirname), fs.constants.O_RDONLY);
    } catch (err) {
      result.error = `failed to open: ${strerror(err)}`;
      continue;
    }
    try {
      const r = sys.fs.trim(fd, minlen);
      if (r.errno !== 0 || !('len' in r)) {
        result.error = r.errno === ENOTTY || r.errno === EOPNOTSUPP ? 'trim not supported' : `failed to trim: ${strerror(r.errno)}`;
      } else {
        // The kernel's __u64 values land in the schema's int64 members.
        result.minimum = BigInt.asIntN(64, r.minlen);
        result.trimmed = BigInt.asIntN(64, r.len);
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  return { paths };
}
