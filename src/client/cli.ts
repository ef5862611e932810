// qga-client: the command line on top of QgaClient.
//
//   qga-client [GLOBAL OPTIONS] VERB [OPTIONS] [ARGS]
//
// Parsing and help: cli/args.ts; the verbs: cli/verbs/ (listed in cli/verbs/index.ts); errors
// in words: cli/explain.ts. --json prints the raw return value (exact integers, the agent's
// member order); otherwise people get tables and sentences.
//
// Exit status: 0 success; 1 the agent answered an error, or the client failed (timeout,
// connection, checksum mismatch…); 2 usage error; exec: the guest program's exit code, or
// 128 + the signal number, or 124 when --timeout passed before it exited.

import { QgaClient } from './client.ts';
import { replyFromWire } from './convert.ts';
import { QgaClientError } from './errors.ts';
import { formatJson } from './format.ts';
import { DEFAULT_TIMEOUT, helpHint, mainHelp, parseCommandLine, verbHelp } from './cli/args.ts';
import { explain } from './cli/explain.ts';
import { PROG, UsageError, secondsOption, type Ctx, type Verb } from './cli/verb.ts';
import { VERBS, findVerb } from './cli/verbs/index.ts';
import { QGA_TS_VERSION } from '../agent/version.ts';

export async function main(argv: string[]): Promise<number> {
  const out = (t: string) => void process.stdout.write(`${t}\n`);
  const err = (t: string) => void process.stderr.write(`${t}\n`);
  let client: QgaClient | null = null;
  let verb: Verb | undefined;
  let address: string | undefined;
  try {
    const cl = parseCommandLine(argv, findVerb);
    if (cl.kind === 'version') return out(`${PROG} (qga-ts) ${QGA_TS_VERSION}`), 0;
    if (cl.kind === 'help') {
      (cl.usage ? err : out)(cl.verb === undefined ? mainHelp(VERBS) : verbHelp(cl.verb));
      return cl.usage ? 2 : 0;
    }
    const { globals: g, values, operands } = cl;
    verb = cl.verb;
    address = (g.socket as string | undefined) ?? process.env.QGA_CLIENT_ADDRESS;
    const timeoutS = g.timeout === undefined ? (verb.defaultTimeout ?? DEFAULT_TIMEOUT) : secondsOption(String(g.timeout), '--timeout');
    const json = g.json === true;
    const ctx: Ctx = {
      json,
      signal: new AbortController().signal,
      out,
      err,
      async client() {
        if (client !== null) return client;
        if (address === undefined || address === '') throw new UsageError('no agent socket: give --socket PATH or set QGA_CLIENT_ADDRESS');
        client = new QgaClient({
          address,
          timeout: timeoutS * 1000,
          syncTimeout: Math.min(timeoutS === 0 ? 10_000 : timeoutS * 1000, 10_000),
          ...(g.debug ? { trace: (ev: string, text: string) => err(`[${ev}] ${JSON.stringify(text)}`) } : {}),
        });
        await client.open();
        return client;
      },
      async fetch(command, args) {
        const c = await ctx.client();
        const raw = await c.call(command, args);
        return { raw, value: replyFromWire(command, raw) as never };
      },
      printJson(value) {
        out(formatJson(value));
      },
      progress(v) {
        return process.stderr.isTTY === true && !v['no-progress'] && !json;
      },
    };
    return await verb.run(ctx, values, operands);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`${PROG}: ${e.message}`);
      err(helpHint(e, verb));
      return 2;
    }
    // A bug (no client error, no errno) keeps its stack trace: the top level prints it.
    if (e instanceof QgaClientError || (e instanceof Error && /^E[A-Z]+$/.test(String((e as NodeJS.ErrnoException).code)))) {
      err(`${PROG}: ${explain(e, address)}`);
      return 1;
    }
    throw e;
  } finally {
    await (client as QgaClient | null)?.close();
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  return /(?:^|[\\/])(?:cli\.ts|client\.js|qga-client)$/.test(script);
}

if (isEntryPoint()) {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`${PROG}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}

export { VERBS };
