// The read-only information commands (issue 4), by command name, for the handler table.
import type { Handlers } from '../generated/qapi-commands.ts';
import type { AgentContext } from './context.ts';
import { guestGetVcpus } from './cpu.ts';
import { guestGetDisks } from './disks.ts';
import { guestGetFsinfo } from './fs-info.ts';
import { guestGetMemoryBlockInfo, guestGetMemoryBlocks } from './memory.ts';
import { guestNetworkGetInterfaces, guestNetworkGetRoute } from './net.ts';
import { guestGetCpustats, guestGetDiskstats } from './stats.ts';
import { guestGetUsers } from './users.ts';

export const inventoryHandlers = {
  'guest-network-get-interfaces': guestNetworkGetInterfaces,
  'guest-network-get-route': guestNetworkGetRoute,
  'guest-get-vcpus': guestGetVcpus,
  'guest-get-memory-blocks': guestGetMemoryBlocks,
  'guest-get-memory-block-info': guestGetMemoryBlockInfo,
  'guest-get-users': guestGetUsers,
  'guest-get-fsinfo': guestGetFsinfo,
  'guest-get-disks': guestGetDisks,
  'guest-get-diskstats': guestGetDiskstats,
  'guest-get-cpustats': guestGetCpustats,
} satisfies Partial<Handlers<AgentContext>>;
