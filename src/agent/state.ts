// The state directory (docs/compatibility.md §Agent): `qga.state` with the persistent file-handle counter, and the
// `qga.state.isfrozen` marker. API: statePaths(dir), checkFrozenAtStart(paths, log) → boolean,
// setFrozenMarker/clearFrozenMarker(paths, log), PersistentState.open(paths, {frozen, log}) →
// .allocateHandle(): bigint (persisted before it returns), writeFileAtomic(path, data).
import * as fs from 'node:fs';
import { genericError } from '../protocol/errors.ts';
import { strerror } from '../platform/linux/strerror.ts';
import { KeyFile, KeyFileError, keyFileToData } from '../keyfile/keyfile.ts';

/** The log calls these functions need (AgentLogger satisfies it). */
export interface StateLog {
  critical(message: string): void;
  warning(message: string): void;
}

export interface StatePaths {
  stateDir: string;
  /** `<statedir>/qga.state` */
  stateFile: string;
  /** `<statedir>/qga.state.isfrozen` */
  frozenMarker: string;
}

/** qemu-ga's g_strdup_printf("%s/qga.state", statedir): plain concatenation, no normalisation. */
export function statePaths(stateDir: string): StatePaths {
  return { stateDir, stateFile: `${stateDir}/qga.state`, frozenMarker: `${stateDir}/qga.state.isfrozen` };
}

/**
 * qemu-ga's check_is_frozen(), called before the log handler is installed (so `log` prints GLib's
 * format). The marker exists → warn and start frozen. A stat() error other than ENOENT is logged as
 * a critical and ALSO means frozen (the reference returns EXIT_FAILURE from a bool function).
 */
export function checkFrozenAtStart(paths: StatePaths, log: StateLog): boolean {
  try {
    fs.statSync(paths.frozenMarker);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    log.critical(`unable to access state file at path ${paths.frozenMarker}: ${strerror(e)}`);
    return true;
  }
  log.warning(
    'previous instance appears to have exited with frozen filesystems. deferring logging/pidfile ' +
      'creation and disabling non-fsfreeze-safe commands until guest-fsfreeze-thaw is issued, or ' +
      `filesystems are manually unfrozen and the file ${paths.frozenMarker} is removed`,
  );
  return true;
}

/**
 * Entering the frozen state: create the empty marker (open O_CREAT|O_WRONLY, mode 0600). On failure,
 * the two warnings of ga_create_file()/ga_set_frozen(); the freeze goes on regardless.
 */
export function setFrozenMarker(paths: StatePaths, log: StateLog): boolean {
  try {
    fs.closeSync(fs.openSync(paths.frozenMarker, fs.constants.O_CREAT | fs.constants.O_WRONLY, 0o600));
    return true;
  } catch (e) {
    log.warning(`unable to open/create file ${paths.frozenMarker}: ${strerror(e)}`);
    log.warning(`unable to create ${paths.frozenMarker}, fsfreeze may not function properly`);
    return false;
  }
}

/** Leaving the frozen state: unlink the marker, with ga_delete_file()/ga_unset_frozen()'s warnings. */
export function clearFrozenMarker(paths: StatePaths, log: StateLog): boolean {
  try {
    fs.unlinkSync(paths.frozenMarker);
    return true;
  } catch (e) {
    log.warning(`unable to delete file: ${paths.frozenMarker}: ${strerror(e)}`);
    log.warning(`unable to delete ${paths.frozenMarker}, fsfreeze may not function properly`);
    return false;
  }
}

function unlinkQuietly(path: string): void {
  try {
    fs.unlinkSync(path);
  } catch {
    // best effort, as GLib's g_unlink() of the temporary file
  }
}

const TMP_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Thrown by writeFileAtomic with GLib's g_file_set_contents() message. */
export class AtomicWriteError extends Error {}

/**
 * GLib's g_file_set_contents(): write `<path>.XXXXXX` (mode 0666 & ~umask), fsync it when it
 * replaces a non-empty file, rename it over `path`. Throws AtomicWriteError with GLib's text.
 */
export function writeFileAtomic(path: string, data: string | Buffer): void {
  let fd = -1;
  let tmp = '';
  for (let attempt = 0; attempt < 100; attempt++) {
    let suffix = '';
    for (let i = 0; i < 6; i++) suffix += TMP_CHARS[Math.floor(Math.random() * TMP_CHARS.length)]; // O_EXCL makes clashes harmless; node:crypto would cost startup time
    tmp = `${path}.${suffix}`;
    try {
      fd = fs.openSync(tmp, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o666);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw new AtomicWriteError(`Failed to create file \u201c${tmp}\u201d: ${strerror(e)}`);
    }
  }
  if (fd < 0) throw new AtomicWriteError(`Failed to create file \u201c${tmp}\u201d: ${strerror({ code: 'EEXIST' })}`);
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  try {
    try {
      let off = 0;
      while (off < buf.length) off += fs.writeSync(fd, buf, off);
    } catch (e) {
      throw new AtomicWriteError(`Failed to write file \u201c${tmp}\u201d: write() failed: ${strerror(e)}`);
    }
    let replacesData = false;
    try {
      replacesData = fs.lstatSync(path).size > 0;
    } catch {
      // no file yet: nothing to protect, no fsync (GLib's G_FILE_SET_CONTENTS_ONLY_EXISTING)
    }
    if (replacesData) {
      try {
        fs.fsyncSync(fd);
      } catch (e) {
        throw new AtomicWriteError(`Failed to write file \u201c${tmp}\u201d: fsync() failed: ${strerror(e)}`);
      }
    }
  } catch (e) {
    fs.closeSync(fd);
    unlinkQuietly(tmp);
    throw e;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, path);
  } catch (e) {
    unlinkQuietly(tmp);
    throw new AtomicWriteError(`Failed to rename file \u201c${tmp}\u201d to \u201c${path}\u201d: g_rename() failed: ${strerror(e)}`);
  }
}

/** Init failed; the criticals are already logged. The caller logs `error initializing guest agent` and exits 1. */
export class StateInitError extends Error {}

export const FD_COUNTER_DEFAULT = 1000n;
const INT64_MAX = (1n << 63n) - 1n;

/** The `fd_counter` persisted in `<statedir>/qga.state`. */
export class PersistentState {
  private counter: bigint;

  private constructor(
    readonly paths: StatePaths,
    counter: bigint,
    private readonly log: StateLog,
  ) {
    this.counter = counter;
  }

  /**
   * qemu-ga's read_persistent_state(): a missing file gives the defaults and is created at once,
   * unless `frozen` (then on the first allocateHandle()). A missing key gives 1000, an unparsable
   * one 0. On failure logs qemu-ga's criticals, ending with `failed to load persistent state`, and
   * throws StateInitError.
   */
  static open(paths: StatePaths, opts: { frozen: boolean; log: StateLog }): PersistentState {
    const { log } = opts;
    const fail = (): never => {
      log.critical('failed to load persistent state');
      throw new StateInitError('failed to load persistent state');
    };
    try {
      fs.statSync(paths.stateFile);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        log.critical(`unable to access state file at path ${paths.stateFile}: ${strerror(e)}`);
        return fail();
      }
      const state = new PersistentState(paths, FD_COUNTER_DEFAULT, log);
      if (!opts.frozen && !state.write()) {
        log.critical(`unable to create state file at path ${paths.stateFile}`);
        return fail();
      }
      return state;
    }
    let kf: KeyFile;
    try {
      kf = KeyFile.load(paths.stateFile);
    } catch (e) {
      if (!(e instanceof KeyFileError)) throw e;
      log.critical(`error loading persistent state from path: ${paths.stateFile}, ${e.message}`);
      return fail();
    }
    // g_key_file_get_integer() reads a C int: values outside int32 count as unparsable (0).
    const counter = kf.hasKey('global', 'fd_counter') ? BigInt(kf.getInteger('global', 'fd_counter').value) : FD_COUNTER_DEFAULT;
    return new PersistentState(paths, counter, log);
  }

  /** The next handle that allocateHandle() will return. */
  get fdCounter(): bigint {
    return this.counter;
  }

  /**
   * qemu-ga's ga_get_fd_handle(): take the counter, advance it, persist it, then return the handle.
   * If the write fails the counter stays advanced and this throws GenericError
   * `failed to commit persistent state to disk` (after logging the write's critical).
   * Must not be called while frozen (guest-file-open is disabled then).
   */
  allocateHandle(): bigint {
    const handle = this.counter++;
    if (this.counter === INT64_MAX) throw new Error('fd counter exhausted'); // qemu-ga abort()s
    if (!this.write()) throw genericError('failed to commit persistent state to disk');
    return handle;
  }

  /**
   * write_persistent_state(): `[global]\nfd_counter=<n>\n`. g_key_file_set_integer() takes a C int,
   * so the stored number is the counter truncated to 32 bits, as qemu-ga writes it.
   */
  private write(): boolean {
    const stored = BigInt.asIntN(32, this.counter);
    try {
      writeFileAtomic(this.paths.stateFile, keyFileToData([{ name: 'global', entries: [['fd_counter', String(stored)]] }]));
      return true;
    } catch (e) {
      if (!(e instanceof AtomicWriteError)) throw e;
      this.log.critical(`failed to write persistent state to ${this.paths.stateFile}: ${e.message}`);
      return false;
    }
  }
}
