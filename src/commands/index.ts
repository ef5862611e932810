// The handler table: one entry per schema command; the generated Handlers type makes a missing one a build error.
import type { Handlers } from '../generated/qapi-commands.ts';
import { unsupported } from '../protocol/errors.ts';
import type { AgentContext } from './context.ts';
import { guestPing, guestSync, guestSyncDelimited } from './sync.ts';
import { guestInfo } from './info.ts';
import { guestGetTime } from './time.ts';
import { guestGetHostName, guestGetLoad, guestGetOsinfo, guestGetTimezone } from './os.ts';
import { createFileHandlers } from './file.ts';
import { createExecHandlers } from './exec.ts';
import { inventoryHandlers } from './inventory.ts';

/** Commands whose own issue has not landed yet answer qemu-ga's unsupported error, never a fake success. */
function notYet(): never {
  throw unsupported();
}

export function createHandlers(): Handlers<AgentContext> {
  return {
    'guest-sync-delimited': guestSyncDelimited,
    'guest-sync': guestSync,
    'guest-ping': guestPing,
    'guest-get-time': guestGetTime,
    'guest-set-time': notYet,
    'guest-info': guestInfo,
    'guest-shutdown': notYet,
    ...createFileHandlers(),
    'guest-fsfreeze-status': notYet,
    'guest-fsfreeze-freeze': notYet,
    'guest-fsfreeze-freeze-list': notYet,
    'guest-fsfreeze-thaw': notYet,
    'guest-fstrim': notYet,
    'guest-suspend-disk': notYet,
    'guest-suspend-ram': notYet,
    'guest-suspend-hybrid': notYet,
    'guest-set-vcpus': notYet,
    'guest-set-user-password': notYet,
    'guest-set-memory-blocks': notYet,
    ...createExecHandlers(),
    'guest-get-host-name': guestGetHostName,
    'guest-get-timezone': guestGetTimezone,
    'guest-get-osinfo': guestGetOsinfo,
    'guest-ssh-get-authorized-keys': notYet,
    'guest-ssh-add-authorized-keys': notYet,
    'guest-ssh-remove-authorized-keys': notYet,
    'guest-get-load': guestGetLoad,
    ...inventoryHandlers,
  };
}
