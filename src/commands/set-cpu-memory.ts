// guest-set-vcpus (docs/compatibility.md §Commands) and guest-set-memory-blocks (docs/compatibility.md §Commands): sysfs writes under ctx.root.
//
// set-vcpus: each element in order; the count of leading elements that worked is returned, and an error
// only when the very first element fails. set-memory-blocks: one result per element, `error-code` set to
// the errno of every failure path (whether or not the response changes), as qemu-ga's
// transfer_memory_block() does.
import * as fs from 'node:fs';
import type {
  GuestMemoryBlockResponse,
  GuestMemoryBlockResponseType,
  GuestSetMemoryBlocksArgs,
  GuestSetVcpusArgs,
} from '../generated/qapi-types.ts';
import { genericError, QgaError } from '../protocol/errors.ts';
import { rooted } from '../platform/linux/paths.ts';
import { errnoOf } from '../platform/linux/strerror.ts';
import type { AgentContext } from './context.ts';
import { withErrno } from './inventory-common.ts';
import { services } from './services.ts';

const CPU_DIR = '/sys/devices/system/cpu';
const MEMORY_DIR = '/sys/devices/system/memory/';
const ENOENT = 2;

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // nothing to do
  }
}

/** transfer_vcpu() in the vcpu-to-system direction: throws qemu-ga's error for this element. */
function setVcpu(root: string, id: bigint, online: boolean): void {
  // "cpu%" PRId64 "/": the paths in the texts keep the trailing slash (hence "…cpuN//online").
  const dir = `${CPU_DIR}/cpu${BigInt.asIntN(64, id)}/`;
  const onlinePath = `${dir}/online`;
  let dirfd: number;
  try {
    dirfd = fs.openSync(rooted(root, dir), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  } catch (err) {
    throw genericError(withErrno(`open("${dir}")`, err));
  }
  try {
    let fd: number;
    try {
      fd = fs.openSync(rooted(root, `${dir}online`), fs.constants.O_RDWR);
    } catch (err) {
      if (errnoOf(err) !== ENOENT) throw genericError(withErrno(`open("${onlinePath}")`, err));
      // No "online" file (typically cpu0): it cannot be offlined; onlining it is a silent success.
      if (!online) throw genericError(`logical processor #${BigInt.asIntN(64, id)} can't be offlined`);
      return;
    }
    try {
      const status = Buffer.alloc(1);
      let n: number;
      try {
        n = fs.readSync(fd, status, 0, 1, 0);
      } catch (err) {
        throw genericError(withErrno(`pread("${onlinePath}")`, err));
      }
      if (n === 0) throw genericError(`pread("${onlinePath}"): unexpected EOF`);
      if (online !== (status[0] !== 0x30)) {
        try {
          fs.writeSync(fd, Buffer.from(online ? '1' : '0'), 0, 1, 0);
        } catch (err) {
          throw genericError(withErrno(`pwrite("${onlinePath}")`, err));
        }
      }
    } finally {
      closeQuietly(fd);
    }
  } finally {
    closeQuietly(dirfd);
  }
}

export function guestSetVcpus(args: GuestSetVcpusArgs, ctx: AgentContext): number {
  services(ctx);
  let processed = 0;
  for (const vcpu of args.vcpus) {
    try {
      setVcpu(ctx.root, vcpu['logical-id'], vcpu.online);
    } catch (err) {
      if (!(err instanceof QgaError)) throw err;
      // Only a failure of the first element is an error; later ones end the walk quietly.
      if (processed === 0) throw err;
      break;
    }
    processed++;
  }
  return processed;
}

/** transfer_memory_block() in the block-to-system direction. */
function setMemoryBlock(root: string, physIndex: bigint, online: boolean): GuestMemoryBlockResponse {
  const result: GuestMemoryBlockResponse = { 'phys-index': BigInt.asUintN(64, physIndex), response: 'success' };
  const failed = (response: GuestMemoryBlockResponseType | null, errno: number): GuestMemoryBlockResponse => {
    if (response !== null) result.response = response;
    result['error-code'] = errno;
    return result;
  };
  try {
    fs.closeSync(fs.openSync(rooted(root, MEMORY_DIR), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY));
  } catch (err) {
    // No memory directory: this guest cannot hotplug memory. Other errors keep "success", with the errno.
    const e = errnoOf(err);
    return failed(e === ENOENT ? 'operation-not-supported' : null, e);
  }
  const dir = `${MEMORY_DIR}memory${BigInt.asIntN(64, physIndex)}/`;
  let dirfd: number;
  try {
    dirfd = fs.openSync(rooted(root, dir), fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  } catch (err) {
    const e = errnoOf(err);
    return failed(e === ENOENT ? 'not-found' : 'operation-failed', e);
  }
  try {
    const statePath = rooted(root, `${dir}state`);
    let state: Buffer;
    let fd: number;
    try {
      fd = fs.openSync(statePath, fs.constants.O_RDONLY);
    } catch (err) {
      const e = errnoOf(err);
      // No "state" file (old kernels): onlining "works", offlining is not supported.
      if (e === ENOENT) return failed(online ? null : 'operation-not-supported', e);
      return failed('operation-failed', e);
    }
    try {
      const buf = Buffer.alloc(10);
      let n: number;
      try {
        n = fs.readSync(fd, buf, 0, 10, 0);
      } catch (err) {
        const e = errnoOf(err);
        return failed(e === ENOENT ? (online ? null : 'operation-not-supported') : 'operation-failed', e);
      }
      // An empty file: "unexpected EOF" with errno still 0.
      if (n === 0) return failed('operation-failed', 0);
      state = buf.subarray(0, n);
    } finally {
      closeQuietly(fd);
    }
    const isOnline = state.length >= 6 && state.toString('latin1', 0, 6) === 'online';
    if (online !== isOnline) {
      const word = online ? 'online' : 'offline';
      try {
        const wfd = fs.openSync(statePath, fs.constants.O_WRONLY);
        try {
          fs.writeSync(wfd, Buffer.from(word), 0, word.length, 0);
        } finally {
          closeQuietly(wfd);
        }
      } catch (err) {
        return failed('operation-failed', errnoOf(err));
      }
    }
    return result;
  } finally {
    closeQuietly(dirfd);
  }
}

export function guestSetMemoryBlocks(args: GuestSetMemoryBlocksArgs, ctx: AgentContext): GuestMemoryBlockResponse[] {
  services(ctx);
  return args['mem-blks'].map((b) => setMemoryBlock(ctx.root, b['phys-index'], b.online));
}
