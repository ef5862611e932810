// qemu-ga's configuration: the [general] key file (docs/compatibility.md §Agent), defaults, channel path rules and the
// -D dump (docs/compatibility.md §Agent). API: newConfigDraft(), loadConfigFile(draft, path, required) → messages,
// applyDefaults(draft) → AgentConfig, resolveChannel(cfg, activation), dumpConfig(cfg) → text.
import { escapeKeyFileString, KeyFile, KeyFileError, keyFileToData } from '../keyfile/keyfile.ts';
import { parseExecAllow } from '../commands/exec-policy.ts';
import { GlobError, globToRegExp } from '../commands/fnmatch.ts';

export const QGA_CONF_DEFAULT = '/etc/qemu/qemu-ga.conf';
export const QGA_VIRTIO_PATH_DEFAULT = '/dev/virtio-ports/org.qemu.guest_agent.0';
export const QGA_SERIAL_PATH_DEFAULT = '/dev/ttyS0';
export const QGA_PIDFILE_DEFAULT = '/var/run/qemu-ga.pid';
export const QGA_STATEDIR_DEFAULT = '/var/run';
export const QGA_FSFREEZE_HOOK_DEFAULT = '/etc/qemu/fsfreeze-hook';
/** The most connections `--max-clients` may serve at once: each may hold a 64 MiB message in progress (docs/limits.md). */
export const MAX_CLIENTS_LIMIT = 16;

/** The effective configuration, after the config file, the command line and the defaults. */
export interface AgentConfig {
  daemonize: boolean;
  /** Not validated here: an unknown method fails when the channel is opened. */
  method: string;
  /** null only under socket activation (the listening fd is fd 3). */
  channelPath: string | null;
  logFile: string | null;
  pidFile: string;
  /** null: no hook runs. */
  fsfreezeHook: string | null;
  stateDir: string;
  /** All log levels (-v / verbose=true); otherwise only error and critical. */
  verbose: boolean;
  retryPath: boolean;
  /**
   * The lists in qemu-ga's stored order: each comma-separated string's items reversed, config
   * first, then each -b/-a in order. Empty means no list (qemu-ga keeps no list for `-a ''`, so
   * an empty allow list does NOT mean "allow nothing").
   */
  blockRpcs: string[];
  allowRpcs: string[];
  /** -D: print dumpConfig() and exit 0. */
  dumpConf: boolean;
  /** qga-ts extension (`fsfreeze-timeout`, `--fsfreeze-timeout`): seconds before an automatic thaw; 0 = off. */
  fsfreezeTimeout: number;
  /** qga-ts extension (`exec-allow`, `--exec-allow`): absolute paths guest-exec may start; null = any. */
  execAllow: string[] | null;
  /** qga-ts extension (`exec-audit`, `--exec-audit`): an audit record for every exec. */
  execAudit: boolean;
  /** qga-ts extension (`exclude-interfaces`, `--exclude-interfaces`): glob patterns of interface names to leave out. */
  excludeInterfaces: string[];
  /** qga-ts extension (`max-clients`, `--max-clients`): connections served at once on unix-listen/vsock-listen; 1 = qemu-ga. */
  maxClients: number;
}

/** The configuration while it is being built: the defaulted members may still be unset. */
export type ConfigDraft = Omit<AgentConfig, 'method' | 'pidFile' | 'stateDir'> & {
  method: string | null;
  pidFile: string | null;
  stateDir: string | null;
};

export function newConfigDraft(): ConfigDraft {
  return {
    daemonize: false,
    method: null,
    channelPath: null,
    logFile: null,
    pidFile: null,
    fsfreezeHook: null,
    stateDir: null,
    verbose: false,
    retryPath: false,
    blockRpcs: [],
    allowRpcs: [],
    dumpConf: false,
    fsfreezeTimeout: 0,
    execAllow: null,
    execAudit: false,
    excludeInterfaces: [],
    maxClients: 1,
  };
}

/**
 * qemu-ga's split_list(): g_strsplit on `,` (no trimming; an empty string gives no items), each
 * item prepended, so one string's items come out reversed.
 */
export function splitRpcList(s: string): string[] {
  if (s === '') return [];
  return s.split(',').reverse();
}

/**
 * An `exclude-interfaces` value: comma-separated glob patterns (empty items dropped). Returns the
 * patterns, or the words saying which one cannot be used.
 */
export function parsePatternList(s: string): { patterns: string[] } | { error: string } {
  const patterns = s.split(',').filter((p) => p !== '');
  for (const p of patterns) {
    try {
      globToRegExp(p);
    } catch (err) {
      if (!(err instanceof GlobError)) throw err;
      return { error: `pattern '${p}': ${err.message}` };
    }
  }
  return { patterns };
}

/** A `max-clients` value: a whole number from 1 to MAX_CLIENTS_LIMIT, or the words saying why not. */
export function parseMaxClients(s: string): number | { error: string } {
  const n = /^[0-9]+$/.test(s) ? Number(s) : NaN;
  if (!(n >= 1 && n <= MAX_CLIENTS_LIMIT)) return { error: `needs a number of connections from 1 to ${MAX_CLIENTS_LIMIT}, not '${s}'` };
  return n;
}

/** A message for the GLib default log handler (the agent's own handler is not installed yet). */
export interface GLibMessage {
  level: 'critical' | 'warning';
  /** GLib log domain, e.g. `GLib` for GLib's own warnings; undefined for qemu-ga's. */
  domain?: string;
  text: string;
}

export interface ConfigLoadResult {
  ok: boolean;
  /** In emission order; on failure the last one is the fatal critical. */
  messages: GLibMessage[];
}

const GROUP = 'general';

/**
 * qemu-ga's config_load(): reads the keys of docs/compatibility.md §Agent into `draft`. A missing file is ignored
 * unless `required` (-c). The first error is fatal; like qemu-ga, later failing keys only make
 * GLib warn that a GError was set over a previous one.
 */
export function loadConfigFile(draft: ConfigDraft, path: string, required: boolean): ConfigLoadResult {
  const messages: GLibMessage[] = [];
  let firstError: string | undefined;
  const fail = (text: string): void => {
    if (firstError === undefined) {
      firstError = text;
    } else {
      messages.push({
        level: 'warning',
        domain: 'GLib',
        text:
          'GError set over the top of a previous GError or uninitialized memory.\n' +
          "This indicates a bug in someone's code. You must ensure an error is NULL before it's set.\n" +
          `The overwriting error message was: ${text}`,
      });
    }
  };

  let kf: KeyFile | undefined;
  try {
    kf = KeyFile.load(path);
  } catch (e) {
    if (!(e instanceof KeyFileError)) throw e;
    if (e.code === 'ENOENT' && !required) return { ok: true, messages };
    firstError = e.message;
  }

  if (kf) {
    const str = (key: string): string | undefined => {
      if (!kf.hasKey(GROUP, key)) return undefined;
      const r = kf.getString(GROUP, key);
      if (r.error !== undefined) fail(r.error);
      return r.value;
    };
    const bool = (key: string): boolean | undefined => {
      if (!kf.hasKey(GROUP, key)) return undefined;
      const r = kf.getBoolean(GROUP, key);
      if (r.error !== undefined) fail(r.error);
      return r.value;
    };

    // Same keys, same order as qemu-ga (the order decides which error is reported).
    const daemon = bool('daemon');
    if (daemon !== undefined) draft.daemonize = daemon;
    const method = str('method');
    if (method !== undefined) draft.method = method;
    const p = str('path');
    if (p !== undefined) draft.channelPath = p;
    const logfile = str('logfile');
    if (logfile !== undefined) draft.logFile = logfile;
    const pidfile = str('pidfile');
    if (pidfile !== undefined) draft.pidFile = pidfile;
    const hook = str('fsfreeze-hook');
    if (hook !== undefined) draft.fsfreezeHook = hook;
    const statedir = str('statedir');
    if (statedir !== undefined) draft.stateDir = statedir;
    // `verbose=false` does not cancel -v: only a true value changes anything.
    if (bool('verbose') === true) draft.verbose = true;
    const retry = bool('retry-path');
    if (retry !== undefined) draft.retryPath = retry;
    const block = str('block-rpcs');
    if (block !== undefined) draft.blockRpcs.push(...splitRpcList(block));
    const allow = str('allow-rpcs');
    if (allow !== undefined) draft.allowRpcs.push(...splitRpcList(allow));
    // `blacklist` (7.2's alias) is ignored silently, as in qemu-ga 9.1+.
    if (kf.hasKey(GROUP, 'fsfreeze-timeout')) {
      const r = kf.getInteger(GROUP, 'fsfreeze-timeout');
      if (r.error === undefined && r.value < 0) {
        fail(
          `Key file contains key \u201cfsfreeze-timeout\u201d in group \u201c${GROUP}\u201d which has a value that cannot be interpreted.`,
        );
      } else if (r.error !== undefined) {
        fail(r.error);
      } else {
        draft.fsfreezeTimeout = r.value;
      }
    }
    const execAllow = str('exec-allow');
    if (execAllow !== undefined) {
      const list = parseExecAllow(execAllow);
      if ('error' in list) fail(list.error);
      else draft.execAllow = list;
    }
    const execAudit = bool('exec-audit');
    if (execAudit !== undefined) draft.execAudit = execAudit;
    const exclude = str('exclude-interfaces');
    if (exclude !== undefined) {
      const r = parsePatternList(exclude);
      if ('error' in r) fail(`exclude-interfaces: ${r.error}`);
      else draft.excludeInterfaces.push(...r.patterns);
    }
    const maxClients = str('max-clients');
    if (maxClients !== undefined) {
      const n = parseMaxClients(maxClients);
      if (typeof n !== 'number') fail(`max-clients: ${n.error}`);
      else draft.maxClients = n;
    }
  }

  if (firstError !== undefined) {
    messages.push({ level: 'critical', text: `error loading configuration from path: ${path}, ${firstError}` });
    return { ok: false, messages };
  }
  return { ok: true, messages };
}

/** qemu-ga's main(): pidfile, statedir and method defaults (the channel path comes later). */
export function applyDefaults(draft: ConfigDraft): AgentConfig {
  return {
    ...draft,
    pidFile: draft.pidFile ?? QGA_PIDFILE_DEFAULT,
    stateDir: draft.stateDir ?? QGA_STATEDIR_DEFAULT,
    method: draft.method ?? 'virtio-serial',
    blockRpcs: [...draft.blockRpcs],
    allowRpcs: [...draft.allowRpcs],
    execAllow: draft.execAllow === null ? null : [...draft.execAllow],
    excludeInterfaces: [...draft.excludeInterfaces],
  };
}

export type ChannelResolution = { ok: true; config: AgentConfig } | { ok: false; critical: string };

/**
 * qemu-ga's main() after the socket-activation check. `activation` is the method forced by a
 * socket-activated fd (`unix-listen` / `vsock-listen`), or null. Without a path, virtio-serial and
 * isa-serial get their default device; anything else (even an unknown method) fails with
 * `must specify a path for this channel`, which the caller logs as a critical and exits 1.
 */
export function resolveChannel(config: AgentConfig, activation: string | null): ChannelResolution {
  const method = activation ?? config.method;
  if (config.maxClients > 1 && (method === 'virtio-serial' || method === 'isa-serial')) {
    // A serial port is one stream with one host at its other end: there is nothing to serve a second client on.
    return {
      ok: false,
      critical: `max-clients=${config.maxClients} needs a listening channel (unix-listen or vsock-listen); ${method} is a single stream`,
    };
  }
  if (activation !== null) return { ok: true, config: { ...config, method: activation, channelPath: null } };
  if (config.channelPath !== null) return { ok: true, config };
  if (config.method === 'virtio-serial') return { ok: true, config: { ...config, channelPath: QGA_VIRTIO_PATH_DEFAULT } };
  if (config.method === 'isa-serial') return { ok: true, config: { ...config, channelPath: QGA_SERIAL_PATH_DEFAULT } };
  return { ok: false, critical: 'must specify a path for this channel' };
}

/**
 * qemu-ga's config_dump() output (docs/compatibility.md §Agent), byte for byte. `fsfreeze-timeout`, `exec-allow`,
 * `exec-audit`, `exclude-interfaces` and `max-clients` (our extensions) are added at the end only when set, so the default output stays identical to qemu-ga 10.2's.
 */
export function dumpConfig(config: AgentConfig): string {
  const entries: Array<[string, string]> = [];
  const str = (k: string, v: string): void => {
    entries.push([k, escapeKeyFileString(v)]);
  };
  entries.push(['daemon', String(config.daemonize)]);
  str('method', config.method);
  if (config.channelPath !== null) str('path', config.channelPath);
  if (config.logFile !== null) str('logfile', config.logFile);
  str('pidfile', config.pidFile);
  if (config.fsfreezeHook !== null) str('fsfreeze-hook', config.fsfreezeHook);
  str('statedir', config.stateDir);
  entries.push(['verbose', String(config.verbose)]);
  entries.push(['retry-path', String(config.retryPath)]);
  str('block-rpcs', config.blockRpcs.join(','));
  str('allow-rpcs', config.allowRpcs.join(','));
  if (config.fsfreezeTimeout !== 0) entries.push(['fsfreeze-timeout', String(config.fsfreezeTimeout)]);
  if (config.execAllow !== null) str('exec-allow', config.execAllow.join(','));
  if (config.execAudit) entries.push(['exec-audit', 'true']);
  if (config.excludeInterfaces.length > 0) str('exclude-interfaces', config.excludeInterfaces.join(','));
  if (config.maxClients !== 1) entries.push(['max-clients', String(config.maxClients)]);
  return keyFileToData([{ name: GROUP, entries }]);
}
