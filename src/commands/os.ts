// guest-get-host-name, guest-get-timezone, guest-get-osinfo, guest-get-load.
import * as os from 'node:os';
import { genericError } from '../protocol/errors.ts';
import { strerror } from '../platform/linux/strerror.ts';
import { localTimezone } from '../platform/linux/timezone.ts';
import { readOsRelease, unameInfo } from '../platform/linux/os-release.ts';
import { getloadavg } from '../platform/linux/sysinfo.ts';
import type { AgentContext } from './context.ts';

export function guestGetHostName(): { 'host-name': string } {
  try {
    return { 'host-name': os.hostname() };
  } catch (err) {
    throw genericError(`cannot get hostname: ${strerror(err)}`);
  }
}

export function guestGetTimezone(_args: unknown, ctx: AgentContext): { zone?: string; offset: number } {
  const tz = localTimezone(ctx.env, Math.floor(Date.now() / 1000), ctx.root);
  return tz.zone === undefined ? { offset: tz.offset } : { zone: tz.zone, offset: tz.offset };
}

export function guestGetOsinfo(_args: unknown, ctx: AgentContext): Record<string, string> {
  const rel = readOsRelease(ctx.env, ctx.root);
  const un = unameInfo();
  return {
    'kernel-release': un['kernel-release'],
    'kernel-version': un['kernel-version'],
    machine: un.machine,
    ...rel,
  };
}

export function guestGetLoad(): { load1m: number; load5m: number; load15m: number } {
  let loads: [number, number, number];
  try {
    loads = getloadavg();
  } catch (err) {
    throw genericError(`cannot query load average: ${strerror(err)}`);
  }
  const [load1m, load5m, load15m] = loads;
  return { load1m, load5m, load15m };
}
