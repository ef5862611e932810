// Errors in words for people: what went wrong and what to try, instead of raw codes such as
// `connect ENOENT` or `EISDIR`.

import { statSync } from 'node:fs';
import { parseAddress } from '../client.ts';
import { QgaCommandError, QgaConnectionError, QgaTimeoutError } from '../errors.ts';

type Errno = NodeJS.ErrnoException;

/** errno codes a local file operation may meet, in words. */
const ERRNO_WORDS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a component of the path is not a directory',
  EEXIST: 'already exists',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EMFILE: 'too many open files in this process',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'too many levels of symbolic links',
  EIO: 'input/output error',
};

function errnoOf(e: unknown): Errno | undefined {
  let x: unknown = e;
  for (let i = 0; i < 4 && x instanceof Error; i++) {
    if (typeof (x as Errno).code === 'string') return x as Errno;
    x = (x as Error).cause;
  }
  return undefined;
}

function kindOf(path: string): string | undefined {
  try {
    const st = statSync(path);
    if (st.isSocket()) return undefined;
    return st.isDirectory() ? 'a directory' : st.isFile() ? 'a regular file' : 'not a socket';
  } catch {
    return undefined;
  }
}

/** Why connecting to `address` failed, and what to try. */
function connectFailure(address: string, e: Errno): string {
  const target = parseAddress(address);
  if ('path' in target) {
    const p = target.path;
    switch (e.code) {
      case 'ENOENT':
        return `no agent socket at ${p} (is the agent running? start it with e.g. 'qga-ts -m unix-listen -p ${p}', or give the right path with --socket)`;
      case 'ECONNREFUSED': {
        const kind = kindOf(p);
        if (kind !== undefined) return `${p} is ${kind}, not a socket (give the agent's socket with --socket)`;
        return `nothing is listening on ${p} (the socket file is there but no agent has it open: is the agent, or QEMU, still running?)`;
      }
      case 'EACCES':
      case 'EPERM':
        return `no permission to connect to ${p} (run as a user who may open it, e.g. with sudo, or check its mode with 'ls -l ${p}')`;
      case 'ENOTDIR':
        return `no agent socket at ${p}: a component of the path is not a directory`;
      case 'EAGAIN':
        return `the agent at ${p} is busy: its queue of waiting connections is full (try again later)`;
    }
  } else {
    const where = `${target.host}:${target.port}`;
    switch (e.code) {
      case 'ECONNREFUSED':
        return `nothing is listening at ${where} (is QEMU running with the agent's chardev on this port?)`;
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return `cannot resolve the host name '${target.host}' (check the address given to --socket)`;
      case 'ETIMEDOUT':
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return `cannot reach ${where} (${e.code === 'ETIMEDOUT' ? 'no answer' : 'no route to the host'}; check the address and the network)`;
    }
  }
  return `cannot connect to ${address}: ${ERRNO_WORDS[e.code ?? ''] ?? e.message}`;
}

/** One line, without the program name, for any error the CLI reports with exit status 1. */
export function explain(e: unknown, address: string | undefined): string {
  if (e instanceof QgaCommandError) return `${e.command === null ? '' : `${e.command}: `}${e.desc}`;
  if (e instanceof QgaTimeoutError) {
    if (e.command === 'guest-sync-delimited') return e.message;
    return `${e.message} (is the agent still running in the guest? a slow command may need a longer --timeout)`;
  }
  const errno = errnoOf(e);
  if (e instanceof QgaConnectionError) {
    if (errno !== undefined && address !== undefined && /^cannot connect/.test(e.message)) return connectFailure(address, errno);
    if (/closed$/.test(e.message)) return `${e.message} (did the agent stop, or the guest shut down?)`;
    return e.message;
  }
  if (errno !== undefined && typeof errno.path === 'string') {
    const words = ERRNO_WORDS[errno.code ?? ''];
    if (words !== undefined) return `${errno.path}: ${words}`;
  }
  return e instanceof Error ? e.message : String(e);
}
