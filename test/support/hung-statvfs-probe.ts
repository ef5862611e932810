// Child of test/unit/inventory-hang.test.ts (through test/support/hung-fuse.py): statvfs() of a mount
// whose filesystem never answers, through the real threadpool path. Prints one JSON line, then "done".
import { statvfsMany, stuckStatvfsCount } from '../../src/platform/linux/statvfs.ts';

const hung = process.argv[2];
const t0 = Date.now();
const first = await statvfsMany([hung, '/'], 300);
const firstMs = Date.now() - t0;
const t1 = Date.now();
const second = await statvfsMany([hung, '/'], 300);
const secondMs = Date.now() - t1;
// The event loop still runs while a pool thread is stuck.
const tick = await new Promise<number>((r) => {
  const t = Date.now();
  setTimeout(() => r(Date.now() - t), 10);
});
console.log(JSON.stringify({ first: first.map((x) => x !== null), firstMs, second: second.map((x) => x !== null), secondMs, stuck: stuckStatvfsCount(), tick }));
console.log('done');
// After the FUSE connection is aborted the stuck call returns and the mount point is free again.
for (let i = 0; i < 100 && stuckStatvfsCount() > 0; i++) await new Promise((r) => setTimeout(r, 20));
console.log(JSON.stringify({ stuckAfterAbort: stuckStatvfsCount() }));
