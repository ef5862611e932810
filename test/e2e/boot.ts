// Boots the e2e VM by hand and keeps it up until Ctrl-C, for poking at an agent in a real guest:
//
//   npm run build && node --import tsx test/e2e/boot.ts [qga-ts|qemu-ga] [-- AGENT ARGV...]
//
// Prints the agent socket (talk to it with socat or the project's client) and the QMP socket.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { agentArgv, HOST_PATHS, E2E_USERS } from './scenario.ts';
import { hostProblems, prepareKernel, Vm } from './vm.ts';

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const kind = argv[0] === 'qemu-ga' ? 'qemu-ga' : 'qga-ts';
const agent = dash >= 0 ? argv.slice(dash + 1) : agentArgv(kind);

const problems = hostProblems();
if (problems.length > 0) {
  process.stderr.write(`cannot boot the e2e VM:\n  ${problems.join('\n  ')}\n`);
  process.exit(1);
}
const rundir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-e2e-'));
const kernel = prepareKernel(rundir);
const { vm, client } = await Vm.boot({ name: kind, rundir, kernel, agent, hostPaths: HOST_PATHS, users: E2E_USERS });
client.close();
process.stdout.write(
  `agent answered after ${(vm.bootMs / 1000).toFixed(1)} s (${vm.accel}${kernel.pvh ? ', PVH' : ''})\n` +
    `  agent socket: ${vm.agentSock}\n  QMP socket:   ${vm.qmpSock}\n  console:      ${vm.consoleLog}\n  agent log:    ${vm.agentLog}\n` +
    `Ctrl-C stops the VM.\n`,
);
let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await vm.stop();
  fs.rmSync(rundir, { recursive: true, force: true });
  process.exit(0);
};
process.removeAllListeners('SIGINT');
process.on('SIGINT', () => void stop());
setInterval(() => {
  if (!vm.running) void stop();
}, 1000);
