// The handler table: one entry per schema command; the generated Handlers type makes a missing one a build error.
import type { Handlers } from '../generated/qapi-commands.ts';
import type { AgentContext } from './context.ts';
import { guestPing, guestSync, guestSyncDelimited } from './sync.ts';
import { guestInfo } from './info.ts';
import { guestGetTime } from './time.ts';
import { guestGetHostName, guestGetLoad, guestGetOsinfo, guestGetTimezone } from './os.ts';
import { createFileHandlers } from './file.ts';
import { createExecHandlers } from './exec.ts';
import { inventoryHandlers } from './inventory.ts';
import { guestFsfreezeFreeze, guestFsfreezeFreezeList, guestFsfreezeStatus, guestFsfreezeThaw } from './fsfreeze.ts';
import { guestFstrim } from './fstrim.ts';
import { guestShutdown, guestSuspendDisk, guestSuspendHybrid, guestSuspendRam } from './power.ts';
import { guestSetTime } from './set-time.ts';
import { guestSetMemoryBlocks, guestSetVcpus } from './set-cpu-memory.ts';
import { guestSetUserPassword } from './accounts.ts';
import { guestDirList, guestFileStat } from './file-info.ts';
import { guestSshAddAuthorizedKeys, guestSshGetAuthorizedKeys, guestSshRemoveAuthorizedKeys } from './ssh.ts';

export function createHandlers(): Handlers<AgentContext> {
  return {
    'guest-sync-delimited': guestSyncDelimited,
    'guest-sync': guestSync,
    'guest-ping': guestPing,
    'guest-get-time': guestGetTime,
    'guest-set-time': guestSetTime,
    'guest-info': guestInfo,
    'guest-shutdown': guestShutdown,
    ...createFileHandlers(),
    'guest-fsfreeze-status': guestFsfreezeStatus,
    'guest-fsfreeze-freeze': guestFsfreezeFreeze,
    'guest-fsfreeze-freeze-list': guestFsfreezeFreezeList,
    'guest-fsfreeze-thaw': guestFsfreezeThaw,
    'guest-fstrim': guestFstrim,
    'guest-suspend-disk': guestSuspendDisk,
    'guest-suspend-ram': guestSuspendRam,
    'guest-suspend-hybrid': guestSuspendHybrid,
    'guest-set-vcpus': guestSetVcpus,
    'guest-set-user-password': guestSetUserPassword,
    'guest-set-memory-blocks': guestSetMemoryBlocks,
    ...createExecHandlers(),
    'guest-get-host-name': guestGetHostName,
    'guest-get-timezone': guestGetTimezone,
    'guest-get-osinfo': guestGetOsinfo,
    'guest-ssh-get-authorized-keys': guestSshGetAuthorizedKeys,
    'guest-ssh-add-authorized-keys': guestSshAddAuthorizedKeys,
    'guest-ssh-remove-authorized-keys': guestSshRemoveAuthorizedKeys,
    'guest-get-load': guestGetLoad,
    ...inventoryHandlers,
    '__io.qga-ts_guest-file-stat': guestFileStat,
    '__io.qga-ts_guest-dir-list': guestDirList,
  };
}
