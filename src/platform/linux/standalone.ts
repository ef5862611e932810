// The standalone executable (tools/package/sea-main.cjs) has no node_modules and no script path: its
// entry hands over what it has instead, before the agent or client code runs.
import type { Koffi } from './ffi.ts';

export interface Standalone {
  /** koffi's native module, loaded from the executable's own asset. */
  koffi(): Koffi;
}

export function standalone(): Standalone | undefined {
  return (globalThis as { qgaStandalone?: Standalone }).qgaStandalone;
}

/** The arguments that start this program again: a standalone executable has no script to name. */
export function ownArgs(): string[] {
  return standalone() ? process.argv.slice(2) : [...process.execArgv, ...process.argv.slice(1)];
}
