// The read-only information commands on captured fixture trees (test/fixtures/sysroot), against what
// Debian's qemu-ga answered:
//   vm-q35, vm-pc, host   captured in a QEMU guest (tools/fixture-vm-capture.py) or on the build machine;
//                         expected-newest/ is sid's qemu-ga (10.2 semantics) asked in that same machine,
//                         expected-oracle/ is qemu-ga 7.2 run on the captured tree (tools/fixture-oracle.py),
//                         exact for /proc data that moves between capture and query.
//   synthetic-*           hand-made trees (tools/make-synthetic-fixtures.py): CCW, virtio-mmio, odd /proc
//                         files, error paths; expected-oracle/ (7.2) and expected-oracle-newest/ (sid).
// 7.2 answers are turned into 10.2 ones where the two differ for these commands: the mount list keeps one
// mount per device, and statvfs() sizes depend on the machine that ran the oracle, so they are compared
// only against the answers recorded in the machine itself.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { guestGetVcpus } from '../../src/commands/cpu.ts';
import { disks } from '../../src/commands/disks.ts';
import { fsinfo } from '../../src/commands/fs-info.ts';
import { guestGetMemoryBlockInfo, guestGetMemoryBlocks } from '../../src/commands/memory.ts';
import { guestNetworkGetRoute } from '../../src/commands/net.ts';
import { guestGetCpustats, guestGetDiskstats } from '../../src/commands/stats.ts';
import { guestGetUsers } from '../../src/commands/users.ts';
import type { AgentContext } from '../../src/commands/context.ts';
import { QgaError } from '../../src/protocol/errors.ts';
import type { Statvfs } from '../../src/platform/linux/statvfs.ts';
import { SYSROOTS, fixtureAnswer, fixtureStatvfs, listSysroots, makeSysroot, normalize, type Sysroot } from '../support/sysroot.ts';

type Answer = { return?: unknown; error?: { class: string; desc: string } };

async function answer(run: () => unknown): Promise<Answer> {
  try {
    return { return: normalize(await run()) };
  } catch (err) {
    if (err instanceof QgaError) return { error: { class: err.errorClass, desc: err.desc } };
    throw err;
  }
}

const SIZE_KEYS = ['used-bytes', 'total-bytes', 'total-bytes-privileged'];

function withoutSizes(a: Answer): Answer {
  if (!Array.isArray(a.return)) return a;
  return {
    return: a.return.map((e) => Object.fromEntries(Object.entries(e as object).filter(([k]) => !SIZE_KEYS.includes(k)))),
  };
}

/** 7.2 → 10.2 for guest-get-fsinfo: one entry per device, the first mount's (the list is newest first). */
function dedupByName(a: Answer): Answer {
  if (!Array.isArray(a.return)) return a;
  const list = a.return as { name: string }[];
  return { return: list.filter((e, i) => !list.slice(i + 1).some((x) => x.name === e.name)) };
}

/** 7.2 has no USB detection (added after it): a USB disk's address is its "unknown" default there. */
function usbAs72(a: Answer): Answer {
  if (!Array.isArray(a.return)) return a;
  const fix = (d: Record<string, unknown>) =>
    d['bus-type'] === 'usb' ? { ...d, 'bus-type': 'unknown', 'pci-controller': { domain: -1n, bus: -1n, slot: -1n, function: -1n } } : d;
  return {
    return: (a.return as { disk: Record<string, unknown>[] }[]).map((e) => ({ ...e, disk: e.disk.map(fix) })),
  };
}

/** Sorts list elements (readdir-ordered lists) when the rebuilt tree could not reproduce readdir order. */
function unordered(a: Answer, ordered: boolean): Answer {
  if (ordered || !Array.isArray(a.return)) return a;
  const key = (x: unknown) => JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  return { return: [...a.return].sort((x, y) => (key(x) < key(y) ? -1 : 1)) };
}

function statvfsFrom(name: string, root: string): (paths: readonly string[]) => Promise<(Statvfs | null)[]> {
  const recorded = fixtureStatvfs(name);
  return async (paths) =>
    paths.map((p) => {
      const s = recorded[p.slice(root.length) || '/'];
      return s ? { frsize: BigInt(s.frsize), blocks: BigInt(s.blocks), bfree: BigInt(s.bfree), bavail: BigInt(s.bavail) } : null;
    });
}

function smartFrom(name: string, root: string): (devnode: string) => Buffer | undefined {
  return (devnode) => {
    const p = path.join(SYSROOTS, name, 'nvme-smart', path.basename(devnode.slice(root.length)) + '.bin');
    return fs.existsSync(p) ? fs.readFileSync(p) : undefined;
  };
}

const SIMPLE: Record<string, (root: string) => unknown> = {
  'guest-get-vcpus': (root) => guestGetVcpus(undefined, { root } as AgentContext),
  'guest-get-memory-blocks': (root) => guestGetMemoryBlocks(undefined, { root } as AgentContext),
  'guest-get-memory-block-info': (root) => guestGetMemoryBlockInfo(undefined, { root } as AgentContext),
  'guest-get-users': (root) => guestGetUsers(undefined, { root } as AgentContext),
  'guest-get-diskstats': (root) => guestGetDiskstats(undefined, { root } as AgentContext),
  'guest-get-cpustats': (root) => guestGetCpustats(undefined, { root } as AgentContext),
};
// Lists in readdir order (a rebuilt tree that cannot keep the order is compared unordered).
const READDIR_ORDERED = new Set(['guest-get-vcpus', 'guest-get-memory-blocks', 'guest-get-disks']);

for (const name of listSysroots()) {
  describe(`fixture ${name}`, () => {
    let sr: Sysroot;
    const live = fixtureAnswer(name, 'expected-newest', 'guest-get-fsinfo') !== undefined;
    before(() => {
      sr = makeSysroot(name);
    });
    after(() => sr.cleanup());

    for (const [command, run] of Object.entries(SIMPLE)) {
      const expected = fixtureAnswer(name, 'expected-oracle', command) as Answer | undefined;
      test(command, { skip: expected === undefined && 'no recorded answer' }, async () => {
        const got = await answer(() => run(sr.root));
        const ordered = sr.ordered || !READDIR_ORDERED.has(command);
        assert.deepStrictEqual(unordered(got, ordered), unordered(expected as Answer, ordered));
        // In the machine itself, sid's qemu-ga said the same (except for the /proc counters that move).
        const inMachine = fixtureAnswer(name, 'expected-newest', command) as Answer | undefined;
        if (inMachine && !['guest-get-diskstats', 'guest-get-cpustats'].includes(command) && !inMachine.error) {
          assert.deepStrictEqual(unordered(got, ordered), unordered(inMachine, ordered));
        }
      });
    }

    test('guest-network-get-route', async () => {
      const expected = (fixtureAnswer(name, 'expected-newest', 'guest-network-get-route') ??
        fixtureAnswer(name, 'expected-oracle-newest', 'guest-network-get-route')) as Answer | undefined;
      const got = await answer(() => guestNetworkGetRoute(undefined, { root: sr.root } as AgentContext));
      if (expected === undefined) {
        // sid's qemu-ga aborts when both route files are missing (it sets its error twice); the first error.
        assert.deepStrictEqual(got, { error: { class: 'GenericError', desc: 'open("/proc/net/route"): No such file or directory' } });
        return;
      }
      assert.deepStrictEqual(got, expected);
    });

    test('guest-get-fsinfo', async () => {
      const got = await answer(() => fsinfo(sr.root, { statvfs: statvfsFrom(name, sr.root) }));
      if (live) {
        const expected = fixtureAnswer(name, 'expected-newest', 'guest-get-fsinfo') as Answer;
        if (name === 'host') {
          // A busy root filesystem: the sizes moved between capture and query; their presence did not.
          assert.deepStrictEqual(withoutSizes(got), withoutSizes(expected));
          assert.deepStrictEqual(
            (got.return as object[]).map((e) => Object.keys(e).filter((k) => SIZE_KEYS.includes(k)).sort()),
            (expected.return as object[]).map((e) => Object.keys(e).filter((k) => SIZE_KEYS.includes(k)).sort()),
          );
        } else {
          assert.deepStrictEqual(got, expected);
        }
      }
      const oracle = fixtureAnswer(name, 'expected-oracle', 'guest-get-fsinfo') as Answer | undefined;
      if (oracle) {
        assert.deepStrictEqual(usbAs72(withoutSizes(got)), withoutSizes(dedupByName(oracle)));
        // Without the 10.2 de-duplication the list is 7.2's, bind mounts included.
        const all = await answer(() => fsinfo(sr.root, { statvfs: statvfsFrom(name, sr.root), dedup: false }));
        assert.deepStrictEqual(usbAs72(withoutSizes(all)), withoutSizes(oracle));
      }
    });

    test('guest-get-disks', async () => {
      const got = await answer(() => disks(sr.root, { smartLog: smartFrom(name, sr.root) }));
      const expected = (fixtureAnswer(name, 'expected-newest', 'guest-get-disks') ??
        fixtureAnswer(name, 'expected-oracle', 'guest-get-disks')) as Answer | undefined;
      assert.ok(expected, 'a recorded answer');
      assert.deepStrictEqual(unordered(got, sr.ordered), unordered(expected, sr.ordered));
    });
  });
}

test('the fixtures cover every bus type qemu-ga reports on Linux', () => {
  const seen = new Set<string>();
  const ccw = new Set<string>();
  for (const name of listSysroots()) {
    for (const dir of ['expected-newest', 'expected-oracle']) {
      const a = fixtureAnswer(name, dir, 'guest-get-disks') as Answer | undefined;
      for (const d of (a?.return as { address?: { 'bus-type': string; 'ccw-address'?: unknown } }[] | undefined) ?? []) {
        if (!d.address) continue;
        seen.add(d.address['bus-type']);
        if (d.address['ccw-address']) ccw.add(d.address['bus-type']);
      }
    }
  }
  for (const bus of ['virtio', 'scsi', 'sata', 'ide', 'nvme', 'usb', 'unknown']) assert.ok(seen.has(bus), bus);
  assert.ok(ccw.size > 0, 'a CCW disk');
});
