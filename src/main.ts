// qga-ts: the daemon's lifecycle in qemu-ga 10.2's startup order (docs/compatibility.md §Agent).
import * as fs from 'node:fs';
import { commandTable } from './generated/qapi-commands.ts';
import { parseCommandLine } from './agent/options.ts';
import { dumpConfig, resolveChannel, type AgentConfig } from './agent/config.ts';
import { AgentLogger, LogFileError } from './agent/log.ts';
import { feedVerbose, sessionTrace } from './agent/verbose.ts';
import { QGA_FULL_VERSION } from './agent/version.ts';
import { checkFrozenAtStart, PersistentState, StateInitError, statePaths } from './agent/state.ts';
import { Pidfile, PidfileError } from './agent/pidfile.ts';
import { becomeDaemon, notifyParent, spawnDaemon, takeDaemonMarker, type DaemonChild } from './agent/daemonize.ts';
import { CommandFilter } from './protocol/command-filter.ts';
import { Dispatcher } from './protocol/dispatcher.ts';
import { CommandGate } from './protocol/command-gate.ts';
import { Session } from './protocol/session.ts';
import { createHandlers } from './commands/index.ts';
import type { AgentContext, SystemServices } from './commands/context.ts';
import { createSystemServices, startSystemServices } from './commands/system.ts';
import { ChannelError, type Transport } from './transport/transport.ts';
import { UnixListenTransport } from './transport/unix-listen.ts';
import { VirtioSerialTransport } from './transport/virtio-serial.ts';
import { IsaSerialTransport } from './transport/isa-serial.ts';
import { VsockListenTransport } from './transport/vsock-listen.ts';
import { exitNow } from './platform/linux/exit.ts';
import { GlobList } from './commands/fnmatch.ts';
import { noteActivity } from './commands/gc-hint.ts';
import { FfiUnavailable, ffi } from './platform/linux/ffi.ts';
import { startOrDefer } from './agent/snapshot.ts';

const RETRY_PATH_DELAY_MS = 5000;
const SD_LISTEN_FD = 3;

function exitWith(code: number, stdout = '', stderr = ''): never {
  if (stdout) fs.writeSync(1, stdout);
  if (stderr) fs.writeSync(2, stderr);
  exitNow(code);
}

/** systemd socket activation: the listening socket is fd 3 (docs/compatibility.md §Agent). Returns the forced method. */
function socketActivation(env: NodeJS.ProcessEnv, daemon: DaemonChild | null, logger: AgentLogger): string | null {
  const activated = daemon?.socketActivation || (env.LISTEN_PID === String(process.pid) && Number(env.LISTEN_FDS) >= 1);
  if (!activated) return null;
  if (!daemon?.socketActivation && Number(env.LISTEN_FDS) > 1) {
    logger.glib('critical', 'qemu-ga only supports listening on one socket');
    exitWith(1);
  }
  let isSocket = false;
  try {
    isSocket = fs.fstatSync(SD_LISTEN_FD).isSocket();
  } catch {
    // not a usable descriptor
  }
  if (!isSocket) {
    logger.glib('critical', 'unsupported listen fd type');
    exitWith(1);
  }
  // AF_VSOCK activation would need getsockname(); unix sockets are what systemd units use.
  return 'unix-listen';
}

function createTransport(config: AgentConfig, logger: AgentLogger, activated: boolean): Transport | undefined {
  const path = config.channelPath ?? '';
  switch (config.method) {
    case 'unix-listen':
      return new UnixListenTransport(activated ? undefined : path, logger, activated ? SD_LISTEN_FD : undefined, config.maxClients);
    case 'virtio-serial':
      return new VirtioSerialTransport(path, logger);
    case 'isa-serial':
      return new IsaSerialTransport(path, logger);
    case 'vsock-listen':
      return new VsockListenTransport(path, logger, config.maxClients);
    default:
      return undefined;
  }
}

async function main(): Promise<void> {
  const env = process.env;
  const daemon = takeDaemonMarker(env);
  const argv0 = process.argv[1] ?? 'qga-ts';
  const parsed = parseCommandLine(process.argv.slice(2), { argv0, env, commandNames: [...commandTable.keys()] });
  if (parsed.kind === 'exit') exitWith(parsed.code, parsed.stdout, parsed.stderr);
  const logger = new AgentLogger();

  const activation = socketActivation(env, daemon, logger);
  const resolved = resolveChannel(parsed.config, activation);
  if (!resolved.ok) {
    logger.glib('critical', resolved.critical);
    exitWith(1);
  }
  const config = resolved.config;
  if (config.dumpConf) exitWith(0, dumpConfig(config));
  if (config.daemonize && daemon === null) {
    // Node cannot fork: a detached copy of this command line does the whole startup (daemonize.ts).
    exitWith(await spawnDaemon({ socketActivation: activation !== null }));
  }

  const paths = statePaths(config.stateDir);
  const frozen = checkFrozenAtStart(paths, { critical: (m) => logger.glib('critical', m), warning: (m) => logger.glib('warning', m) });
  logger.install({ verbose: config.verbose });
  logger.debug(`Guest agent version ${QGA_FULL_VERSION} started`);
  let sys: SystemServices | undefined;
  const fail = (): never => {
    // qemu-ga's cleanup thaws what is still frozen before the agent goes.
    sys?.freeze.beforeExit();
    if (daemon) notifyParent(daemon, false);
    return exitWith(1);
  };
  if (config.logFile !== null) {
    if (frozen) logger.deferFile(config.logFile);
    else {
      try {
        logger.openFile(config.logFile);
      } catch (err) {
        if (!(err instanceof LogFileError)) throw err;
        logger.critical(err.message);
        logger.critical('error initializing guest agent');
        fail();
      }
    }
  }
  // Nothing is logged while filesystems are frozen, not even by a restarted agent.
  if (frozen) logger.pause();
  let state: PersistentState;
  try {
    state = PersistentState.open(paths, { frozen, log: logger });
  } catch (err) {
    if (!(err instanceof StateInitError)) throw err;
    logger.critical('error initializing guest agent');
    return fail();
  }

  // koffi is loaded now: a broken install stops the agent here, in words, not in a reply's stack trace.
  try {
    ffi();
  } catch (err) {
    if (!(err instanceof FfiUnavailable)) throw err;
    logger.critical(err.message);
    logger.critical('error initializing guest agent');
    return fail();
  }
  const commandNames = [...commandTable.keys()];
  const filter = new CommandFilter(config.allowRpcs.length > 0 ? config.allowRpcs : null, config.blockRpcs);
  // Every command starts enabled; -a/-b disable some, each logged with -v (10.2's ga_apply_command_filters).
  for (const name of commandNames) if (!filter.isEnabled(name)) logger.debug(`disabling command: ${name}`);
  filter.frozen = frozen;
  let pidfile: Pidfile | undefined;
  sys = createSystemServices({
    filter,
    commandNames,
    log: logger,
    paths,
    config,
    env,
    // Started frozen with -d: the pidfile is written at the thaw (docs/compatibility.md §Agent).
    deferredPidfile:
      daemon && frozen
        ? () => {
            try {
              pidfile = Pidfile.acquire(config.pidFile);
            } catch (err) {
              if (!(err instanceof PidfileError)) throw err;
              logger.warning(err.message);
            }
          }
        : undefined,
  });
  const quit = (signal: NodeJS.Signals): void => {
    // While frozen, qemu-ga refuses to die: a dead agent cannot thaw.
    if (filter.frozen) return;
    logger.debug(`received signal num ${signal === 'SIGINT' ? 2 : 15}, quitting`);
    pidfile?.release();
    logger.close();
    exitNow(0);
  };
  process.on('SIGTERM', quit);
  process.on('SIGINT', quit);

  const ctx: AgentContext = {
    commands: commandTable,
    filter,
    log: logger,
    allocateHandle: () => state.allocateHandle(),
    env,
    root: '/',
    sys,
    execPolicy: { allow: config.execAllow, audit: config.execAudit },
    excludeInterfaces: new GlobList(config.excludeInterfaces),
  };
  startSystemServices(ctx);
  // Several clients: those commands that change the guest wait for each other (command-gate.ts).
  const gate = config.maxClients > 1 ? new CommandGate() : undefined;
  const dispatcher = new Dispatcher(
    commandTable,
    createHandlers() as never,
    filter,
    ctx,
    { handlerCrash: (command, err) => logger.critical(`${command}: internal error: ${err instanceof Error ? err.stack : String(err)}`) },
    gate,
  );

  const transport = createTransport(config, logger, activation !== null);
  if (transport === undefined) {
    logger.critical(`unsupported channel method/type: ${config.method}`);
    logger.critical('failed to initialize guest agent channel');
    return fail();
  }
  const trace = config.verbose ? sessionTrace(logger) : undefined;
  const session = new Session(dispatcher, transport, trace);
  const deliver = (to: Session, chunk: Buffer): void => {
    noteActivity();
    if (config.verbose) feedVerbose(logger, to, chunk);
    else to.feed(chunk);
  };
  const open = async (): Promise<boolean> => {
    try {
      await transport.open({
        data: (chunk) => deliver(session, chunk),
        clientGone: () => session.clientGone(),
        // --max-clients: each connection has a session (parser, framing, replies) of its own.
        connected:
          config.maxClients > 1
            ? (link) => {
                const own = new Session(dispatcher, link, trace);
                return { data: (chunk) => deliver(own, chunk), gone: () => own.clientGone() };
              }
            : undefined,
        stopped: (reason) => {
          logger.warning(reason);
          transport.close();
          if (config.retryPath) void retry();
          else fail();
        },
      });
      return true;
    } catch (err) {
      if (!(err instanceof ChannelError)) throw err;
      logger.critical(err.message);
      logger.critical('failed to create guest agent channel');
      return false;
    }
  };
  const retry = async (): Promise<void> => {
    for (;;) {
      logger.warning('agent stopped unexpectedly, restarting...');
      logger.warning('waiting for channel path...');
      await new Promise((r) => setTimeout(r, RETRY_PATH_DELAY_MS));
      if (await open()) return;
    }
  };
  if (!(await open())) {
    if (!config.retryPath) {
      logger.critical('failed to initialize guest agent channel');
      return fail();
    }
    logger.info('failed to initialize guest agent channel, will retry');
    void retry();
  }

  if (daemon) {
    // The pidfile waits for the thaw when the agent starts frozen (docs/compatibility.md §Agent).
    if (!frozen) {
      try {
        pidfile = Pidfile.acquire(config.pidFile);
      } catch (err) {
        if (!(err instanceof PidfileError)) throw err;
        logger.critical(err.message);
        return fail();
      }
    }
    try {
      becomeDaemon();
    } catch {
      pidfile?.release();
      logger.critical('failed to daemonize');
      return fail();
    }
    notifyParent(daemon, true);
  }
}

startOrDefer(() => {
  main().catch((err: unknown) => {
    fs.writeSync(2, `qga-ts: ${err instanceof Error ? err.stack : String(err)}\n`);
    exitNow(1);
  });
});
