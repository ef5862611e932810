// Version constants: the qemu-ga release we emulate (reported by -V and guest-info) and our own.

/** The qemu-ga version whose behaviour qga-ts reproduces; `-V` prints `QEMU Guest Agent <this>`. */
export const QGA_VERSION = '10.2.0';

/** qga-ts's own version (kept in step with package.json by hand; read from nothing at run time). */
export const QGA_TS_VERSION = '0.1.0';

/** Like QEMU_FULL_VERSION: used in `--help` and the verbose "Guest agent version … started" line. */
export const QGA_FULL_VERSION = `${QGA_VERSION} (qga-ts ${QGA_TS_VERSION})`;
