// virtio-serial: a character device that reads EOF while no host is attached; qemu-ga waits 100 ms and reads again.
import { CharDeviceTransport } from './char-device.ts';
import type { ChannelLog } from './transport.ts';

export const VIRTIO_SERIAL_DEFAULT_PATH = '/dev/virtio-ports/org.qemu.guest_agent.0';
const NO_HOST_RETRY_MS = 100;

export class VirtioSerialTransport extends CharDeviceTransport {
  constructor(path: string, log: ChannelLog) {
    super(path, log, { eof: (channel) => channel.readLater(NO_HOST_RETRY_MS) });
  }
}
