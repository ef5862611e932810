// The verbs, in the order --help lists them. To add one: write it in a file of this folder
// (a Verb: name, synopsis, summary, options, operands, run) and list it here.

import type { Verb } from '../verb.ts';
import { call } from './call.ts';
import { freeze, frozen, fstrim, reboot, shutdown, suspend, thaw } from './control.ts';
import { exec } from './exec.ts';
import { cat, get, put } from './files.ts';
import { ls, stat } from './browse.ts';
import { fsinfo, ifconfig, info, osinfo, ping, time, users, vcpus } from './query.ts';

export const VERBS: readonly Verb[] = [
  ping,
  info,
  exec,
  cat,
  get,
  put,
  ls,
  stat,
  fsinfo,
  ifconfig,
  osinfo,
  users,
  time,
  vcpus,
  freeze,
  thaw,
  frozen,
  fstrim,
  shutdown,
  reboot,
  suspend,
  call,
];

export function findVerb(name: string): Verb | undefined {
  return VERBS.find((v) => v.name === name || v.aliases?.includes(name));
}
