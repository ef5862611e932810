// A fake AgentContext for calling command handlers directly in unit tests.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AgentContext, AgentLog } from '../../src/commands/context.ts';
import { genericError } from '../../src/protocol/errors.ts';
import { Base64Text } from '../../src/json/value.ts';

export interface FakeContext extends AgentContext {
  /** Audit lines logged so far. */
  readonly audits: string[];
  /** Next value allocateHandle() returns. */
  nextHandle: bigint;
  /** When set, allocateHandle() fails as qemu-ga does when the state file cannot be written. */
  failAllocation: boolean;
}

export function fakeContext(env: NodeJS.ProcessEnv = process.env): FakeContext {
  const audits: string[] = [];
  const log: AgentLog = {
    error() {},
    warning() {},
    info() {},
    debug() {},
    audit(message: string) {
      audits.push(message);
    },
  };
  const ctx: FakeContext = {
    commands: new Map(),
    filter: { isEnabled: () => true } as unknown as AgentContext['filter'],
    log,
    env,
    root: '/',
    audits,
    nextHandle: 1000n,
    failAllocation: false,
    allocateHandle() {
      if (ctx.failAllocation) throw genericError('failed to commit persistent state to disk');
      return ctx.nextHandle++;
    },
  };
  return ctx;
}

/** A fresh temporary directory, removed by the returned cleanup function. */
export function tempDir(prefix = 'qga-unit-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Runs a handler that may return a value or a promise, and awaits it. */
export async function call<T>(result: T | Promise<T>): Promise<T> {
  return wireStrings(await result);
}

/** A result as the client sees it: Base64Text members (printed unscanned) become their strings. */
function wireStrings<T>(v: T): T {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Map) return v;
  let out: Record<string, unknown> | null = null;
  for (const [k, x] of Object.entries(v)) {
    if (x instanceof Base64Text) (out ??= { ...(v as Record<string, unknown>) })[k] = x.text;
  }
  return (out ?? v) as T;
}

/** The QgaError desc a handler call produces (sync throw or rejection); fails if it succeeds. */
export async function errorOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    if (err && typeof err === 'object' && 'desc' in err) return (err as { desc: string }).desc;
    throw err;
  }
  throw new Error('expected the handler to fail, but it succeeded');
}
