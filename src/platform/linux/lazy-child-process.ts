// node:child_process loaded on first use: most agent runs never spawn, and startup time counts.
import type * as ChildProcessModule from 'node:child_process';
import { createRequire } from 'node:module';

let mod: typeof ChildProcessModule | undefined;

function load(): typeof ChildProcessModule {
  mod ??= createRequire(import.meta.url)('node:child_process') as typeof ChildProcessModule;
  return mod;
}

export const spawn: typeof ChildProcessModule.spawn = ((...args: Parameters<typeof ChildProcessModule.spawn>) =>
  (load().spawn as (...a: unknown[]) => ChildProcessModule.ChildProcess)(...args)) as typeof ChildProcessModule.spawn;
