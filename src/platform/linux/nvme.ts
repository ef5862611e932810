// The NVMe SMART / Health log page (log id 02h) through the NVMe admin passthrough ioctl, as qemu-ga's
// guest-get-disks asks it: GET LOG PAGE for the broadcast namespace, 512 bytes, "retain asynchronous event".
import * as fs from 'node:fs';
import { ffi } from './ffi.ts';

/** _IOWR('N', 0x41, struct nvme_admin_cmd), sizeof = 72. */
const NVME_IOCTL_ADMIN_CMD = 0xc0484e41;
const NVME_ADM_CMD_GET_LOG_PAGE = 0x02;
const NVME_LOG_SMART_INFO = 0x02;
const NVME_NSID_BROADCAST = 0xffffffff;
const SMART_LOG_SIZE = 512;

type IoctlFn = (fd: number, req: number, arg: Buffer) => number;
let fns: { ioctl: IoctlFn; addressOf: (b: Buffer) => bigint } | undefined;

/** The raw 512-byte SMART log of the NVMe device node `path`, or undefined when open or ioctl fails. */
export function nvmeSmartLog(path: string): Buffer | undefined {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY);
  } catch {
    return undefined;
  }
  try {
    if (fns === undefined) {
      const { koffi, libc } = ffi();
      fns = {
        ioctl: libc.func('int ioctl(int fd, unsigned long request, _Inout_ uint8_t *arg)') as IoctlFn,
        addressOf: (b) => koffi.address(b) as bigint,
      };
    }
    const log = Buffer.alloc(SMART_LOG_SIZE);
    // struct nvme_passthru_cmd: opcode @0, nsid @4, addr @24, data_len @36, cdw10 @40.
    const cmd = Buffer.alloc(72);
    cmd.writeUInt8(NVME_ADM_CMD_GET_LOG_PAGE, 0);
    cmd.writeUInt32LE(NVME_NSID_BROADCAST, 4);
    cmd.writeBigUInt64LE(fns.addressOf(log), 24);
    cmd.writeUInt32LE(SMART_LOG_SIZE, 36);
    cmd.writeUInt32LE((NVME_LOG_SMART_INFO | (1 << 15) | ((SMART_LOG_SIZE / 4 - 1) << 16)) >>> 0, 40);
    if (fns.ioctl(fd, NVME_IOCTL_ADMIN_CMD, cmd) !== 0) return undefined;
    return log;
  } finally {
    fs.closeSync(fd);
  }
}
