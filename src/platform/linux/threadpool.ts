// A blocking virtio-serial read and a hung statfs each hold a libuv pool thread: start with 8, not 4.
// libuv reads UV_THREADPOOL_SIZE when the first job is queued; children must not inherit it. The
// JavaScript loader (tools/loader.cjs) and the standalone executable's entry do the same before the agent loads.
import * as fs from 'node:fs';

export function widenThreadPool(): void {
  if (process.env.UV_THREADPOOL_SIZE !== undefined) return;
  process.env.UV_THREADPOOL_SIZE = '8';
  fs.access('/', () => {});
  delete process.env.UV_THREADPOOL_SIZE;
}
