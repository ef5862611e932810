// fixture-vm.ts: boots the e2e VM (test/e2e/vm.ts: the host's kernel and root, read-only, under a
// tmpfs overlay) with Debian's qemu-ga on the agent port and extra disks, runs COMMAND on the host
// while it is up, then stops it. tools/fixture-vm-capture.py uses it to capture the inventory
// fixtures (guest-get-fsinfo / guest-get-disks) of guests with many kinds of disks.
//
//   npx tsx tools/fixture-vm.ts [--workdir DIR] [--machine M] [--modules "MOD ..."] [--hook PATH]
//                               [--qemu-arg ARG]... [--timeout S] [--keep] -- COMMAND [ARG...]
//
// COMMAND gets QGA_VM_SOCKET (the agent's socket on the host) and QGA_VM_DIR (logs, console) in its
// environment; the exit status is COMMAND's. --keep leaves the VM up after COMMAND until SIGINT.
// Host packages: those of test/e2e/README.md, plus qemu-guest-agent.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Vm, GUEST_AGENT_DEVICE, hostProblems, prepareKernel } from '../test/e2e/vm.ts';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

const { values, positionals } = parseArgs({
  options: {
    workdir: { type: 'string' },
    machine: { type: 'string' },
    modules: { type: 'string' },
    hook: { type: 'string' },
    'qemu-arg': { type: 'string', multiple: true },
    timeout: { type: 'string' },
    keep: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  allowPositionals: true,
});
if (values.help || positionals.length === 0) {
  process.stdout.write('usage: fixture-vm.ts [--workdir DIR] [--machine M] [--modules "MOD ..."] [--hook PATH] [--qemu-arg ARG]... [--timeout S] [--keep] -- COMMAND [ARG...]\n');
  process.exit(values.help ? 0 : 2);
}
const problems = hostProblems();
if (problems.length > 0) {
  process.stderr.write(`fixture-vm: this host cannot boot the VM:\n  ${problems.join('\n  ')}\n`);
  process.exit(1);
}

const workdir = path.resolve(values.workdir ?? '/var/tmp/qga-fixture-vm');
fs.mkdirSync(workdir, { recursive: true });
const { vm, client } = await Vm.boot({
  name: 'vm',
  rundir: workdir,
  kernel: prepareKernel(workdir),
  agent: ['/usr/sbin/qemu-ga', '-m', 'virtio-serial', '-p', GUEST_AGENT_DEVICE],
  hostPaths: [REPO],
  machine: values.machine ?? 'q35',
  modules: (values.modules ?? '').split(/\s+/).filter((m) => m !== ''),
  ...(values.hook === undefined ? {} : { hook: path.resolve(values.hook) }),
  qemuArgs: values['qemu-arg'] ?? [],
  bootTimeoutMs: Number(values.timeout ?? 600) * 1000,
});
client.close();
process.stderr.write(`fixture-vm: up after ${(vm.bootMs / 1000).toFixed(1)} s (${vm.accel}); agent socket ${vm.agentSock}, logs in ${vm.dir}\n`);
let status = 1;
try {
  const [cmd, ...args] = positionals as [string, ...string[]];
  const child = spawn(cmd, args, { stdio: 'inherit', env: { ...process.env, QGA_VM_SOCKET: vm.agentSock, QGA_VM_DIR: vm.dir } });
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  status = code ?? 128 + (signal === 'SIGINT' ? 2 : 15);
  if (values.keep) {
    process.stderr.write('fixture-vm: --keep: the VM stays up until SIGINT\n');
    await once(process, 'SIGINT');
  }
} finally {
  await vm.stop();
}
process.exit(status);
