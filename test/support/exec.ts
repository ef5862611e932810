// Polls guest-exec-status through the handlers until the process is reported exited.
import type { createExecHandlers, GuestExecStatus } from '../../src/commands/exec.ts';
import type { AgentContext } from '../../src/commands/context.ts';

export async function waitExited(h: ReturnType<typeof createExecHandlers>, ctx: AgentContext, pid: number): Promise<GuestExecStatus> {
  for (let i = 0; i < 60000; i++) {
    const st = h['guest-exec-status']({ pid: BigInt(pid) }, ctx);
    if (st.exited) return st;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error(`pid ${pid} never exited`);
}
