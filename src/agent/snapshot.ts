// The agent's V8 startup snapshot (packaging/snapshot/make-snapshot.js, docs/packaging.md): while
// Node builds one (`node --build-snapshot dist/agent.js`), the module code runs but the agent must
// not start: a snapshot holds no descriptors, timers or sockets, and argv and the environment are
// the run's, not the build's. The snapshot starts the agent when it is deserialized instead.
import { widenThreadPool } from '../platform/linux/threadpool.ts';

/** Runs `start` now, or, while a startup snapshot is being built, each time that snapshot is deserialized. */
export function startOrDefer(start: () => void): void {
  // A cheap test first: node:v8 is loaded only when a snapshot is being built, and through the
  // snapshot builder's own require (a module loaded through createRequire cannot be serialized).
  if (!process.execArgv.includes('--build-snapshot')) return start();
  const v8 = require('node:v8') as typeof import('node:v8');
  if (!v8.startupSnapshot?.isBuildingSnapshot()) return start();
  v8.startupSnapshot.setDeserializeMainFunction(() => {
    // What tools/loader.cjs does before a plain start: a snapshot start never runs the loader.
    widenThreadPool();
    start();
  });
}
