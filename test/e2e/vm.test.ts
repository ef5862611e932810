// End to end in a real VM: qga-ts inside a QEMU guest on /dev/virtio-ports/org.qemu.guest_agent.0,
// driven from the host over the chardev socket, every command; then the same scenario against
// Debian's qemu-ga in the same guest setup, and the two transcripts compared.
//
//   npm run test:e2e        (needs: qemu-system-x86 linux-image-amd64 busybox-static e2fsprogs kmod,
//                            + qemu-guest-agent for the reference; see test/e2e/README.md)
//
// A host that cannot boot the VM fails this file; it never skips silently.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { haveQemuGa, QEMU_GA } from '../support/agent.ts';
import { GuestChannel, Skip } from './channel.ts';
import { agentArgv, E2E_USERS, HOST_PATHS, QGA_TS_MAIN, STEPS, type AgentKind, type StepContext } from './scenario.ts';
import { hostProblems, prepareKernel, Vm, type Kernel } from './vm.ts';

interface Outcome {
  lines: string[];
  ms: number;
  skipped?: string;
  failed?: string;
}

const problems = hostProblems();
const rundir = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-e2e-'));
let kernel: Kernel | undefined;
let anyFailure = false;
const outcomes: Record<AgentKind, Map<string, Outcome>> = { 'qga-ts': new Map(), 'qemu-ga': new Map() };
const boots: string[] = [];

after(() => {
  if (boots.length > 0) process.stdout.write(`# e2e boots: ${boots.join('; ')}\n`);
  if (anyFailure || process.env.QGA_E2E_KEEP === '1') {
    process.stderr.write(`e2e: logs and images kept in ${rundir}\n`);
  } else {
    fs.rmSync(rundir, { recursive: true, force: true });
  }
});

function agentSuite(kind: AgentKind, skip: string | false): void {
  describe(`e2e: ${kind} in a QEMU guest over virtio-serial`, { skip }, () => {
    let vm: Vm | undefined;
    let ctx: Omit<StepContext, 'note'> | undefined;
    let failures = 0;
    let broken: string | undefined;

    before(async () => {
      if (problems.length > 0) throw new Error(`this host cannot run the e2e VM:\n  ${problems.join('\n  ')}`);
      if (kind === 'qga-ts' && !fs.existsSync(QGA_TS_MAIN)) throw new Error(`${QGA_TS_MAIN} is missing: npm run build`);
      kernel ??= prepareKernel(rundir);
      const booted = await Vm.boot({ name: kind, rundir, kernel, agent: agentArgv(kind), hostPaths: HOST_PATHS, users: E2E_USERS });
      vm = booted.vm;
      boots.push(`${kind} answered ${(vm.bootMs / 1000).toFixed(1)} s after QEMU started (${vm.accel}${kernel.pvh ? ', PVH' : ''})`);
      ctx = { kind, vm, kernel, ch: new GuestChannel(booted.client) };
    });

    after(async () => {
      const transcript = [...outcomes[kind]].map(([name, o]) => `### ${name}${o.skipped ? ` (skipped: ${o.skipped})` : ''}${o.failed ? ' (failed)' : ''}\n${o.lines.join('\n')}\n`);
      fs.writeFileSync(path.join(rundir, `transcript-${kind}.txt`), transcript.join('\n'));
      if (vm && failures > 0) process.stderr.write(`\n${vm.diagnostics(200)}\n`);
      ctx?.ch.client.close();
      await vm?.stop();
    });

    for (const step of STEPS) {
      it(step.name, { timeout: step.timeoutMs ?? 90_000 }, async (t) => {
        if (!ctx || !vm) throw new Error('the VM did not boot');
        if (broken) throw new Error(`not run: the agent stopped answering after "${broken}"`);
        const notes: string[] = [];
        ctx.ch.transcript = [];
        const t0 = Date.now();
        const outcome: Outcome = { lines: ctx.ch.transcript, ms: 0 };
        outcomes[kind].set(step.name, outcome);
        try {
          await step.run({ ...ctx, note: (s) => notes.push(s) });
        } catch (err) {
          outcome.ms = Date.now() - t0;
          if (err instanceof Skip) {
            outcome.skipped = err.message;
            t.skip(err.message);
            return;
          }
          failures++;
          anyFailure = true;
          outcome.failed = (err as Error).message;
          // A dead agent would make every later step wait for its timeout: check once, fail fast after.
          if (vm.running) {
            try {
              const v = vm;
              await ctx.ch.reconnect(() => v.connectAgent(20_000));
            } catch {
              broken = step.name;
            }
          }
          throw err;
        } finally {
          outcome.lines = ctx.ch.transcript;
          for (const n of notes) t.diagnostic(n);
        }
        outcome.ms = Date.now() - t0;
        t.diagnostic(`${outcome.ms} ms`);
      });
    }
  });
}

agentSuite('qga-ts', false);
agentSuite('qemu-ga', haveQemuGa ? false : `${QEMU_GA} is not installed (apt-get install qemu-guest-agent)`);

describe('e2e differential: qga-ts against qemu-ga, same guest, same steps', { skip: haveQemuGa ? false : `${QEMU_GA} is not installed` }, () => {
  for (const step of STEPS) {
    it(step.name, (t) => {
      const ours = outcomes['qga-ts'].get(step.name);
      const ref = outcomes['qemu-ga'].get(step.name);
      if (step.noDiff) return t.skip(step.noDiff);
      if (!ours || !ref) return t.skip('not compared: the step did not run in both guests');
      if (ours.skipped) return t.skip(`not compared: qga-ts skipped it (${ours.skipped})`);
      if (ref.skipped) return t.skip(`not compared: qemu-ga skipped it (${ref.skipped})`);
      if (ours.failed || ref.failed) return t.skip(`not compared: the step failed for ${ours.failed ? 'qga-ts' : 'qemu-ga'}`);
      if (step.compare) return step.compare(ours.lines, ref.lines);
      const mask = step.mask ?? ((l: string) => l);
      const to102 = step.to102 ?? ((l: string) => l);
      assert.deepEqual(ours.lines.map(mask), ref.lines.map((l) => mask(to102(l))));
    });
  }
});
