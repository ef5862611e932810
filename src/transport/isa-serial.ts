// isa-serial: a tty set to raw 38400 baud; EOF ends the channel for good (qemu-ga then idles).
import { makeRaw } from '../platform/linux/termios.ts';
import { CharDeviceTransport } from './char-device.ts';
import type { ChannelLog } from './transport.ts';

export const ISA_SERIAL_DEFAULT_PATH = '/dev/ttyS0';

export class IsaSerialTransport extends CharDeviceTransport {
  constructor(path: string, log: ChannelLog) {
    super(path, log, {
      setup: makeRaw,
      eof: (channel, l) => {
        l.debug('received EOF');
        channel.close();
      },
    });
  }
}
