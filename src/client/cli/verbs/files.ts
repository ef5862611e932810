// Copies: cat, get, put. Each is safe to interrupt (ctx.signal): the guest file handle is
// closed first; get leaves nothing at LOCAL_PATH (it writes a temporary file and renames it
// once verified); put says what it left in the guest and removes it when guest-exec is allowed.

import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import type { QgaClient } from '../../client.ts';
import { QgaClientError } from '../../errors.ts';
import { formatSize } from '../../format.ts';
import { createProgress, type Progress } from '../../progress.ts';
import {
  DEFAULT_CHUNK,
  DEFAULT_WINDOW,
  MAX_CHUNK,
  getFile,
  guestSha256,
  putFile,
  readGuestFile,
  removeGuestFile,
  type TransferResult,
  type VerifyMethod,
} from '../../transfer.ts';
import { onInterrupt } from '../interrupt.ts';
import { writeOut } from '../io.ts';
import { PROG, UsageError, sizeOption, type Ctx, type Values, type Verb } from '../verb.ts';

const VERIFY_HELP = 'how to check the copy: auto, sha256sum (guest-exec sha256sum in the guest), readback, none';
const WINDOW_HELP = 'requests in flight (default 1; more only with qga-ts: qemu-ga on virtio-serial loses replies)';

function chunkOption(values: Values): number {
  return sizeOption(values, 'chunk-size', 1, MAX_CHUNK) ?? DEFAULT_CHUNK;
}

function windowOption(values: Values): number {
  const text = values.window;
  if (text === undefined) return DEFAULT_WINDOW;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1 || n > 64) throw new UsageError(`invalid --window '${text}' (1 to 64)`);
  return n;
}

function verifyOption(values: Values, allowed: readonly string[]): string {
  const v = String(values.verify ?? 'auto');
  if (!allowed.includes(v)) throw new UsageError(`invalid --verify '${v}' (one of ${allowed.join(', ')})`);
  return v;
}

/** A progress line that an interruption ends cleanly. */
function progressFor(ctx: Ctx, values: Values, label: string, name: string): Progress {
  const bar = createProgress({ label, name: basename(name), enabled: ctx.progress(values) });
  const off = onInterrupt(() => bar.finish());
  return {
    update: (d, t) => bar.update(d, t),
    phase: (text) => bar.phase(text),
    finish() {
      off();
      bar.finish();
    },
  };
}

interface Timed {
  result: TransferResult;
  secs: number;
  verified: VerifyMethod | null;
  verifySecs: number;
}

function summary(ctx: Ctx, what: string, t: Timed): void {
  const { bytes, sha256 } = t.result;
  if (ctx.json) {
    ctx.printJson({ bytes, sha256, seconds: Number(t.secs.toFixed(3)), verified: t.verified, 'verify-seconds': Number(t.verifySecs.toFixed(3)) });
    return;
  }
  const rate = t.secs > 0 ? `, ${formatSize(bytes / t.secs)}/s` : '';
  const check = t.verified === null ? 'not verified' : `verified (${t.verified}) in ${t.verifySecs.toFixed(2)} s`;
  ctx.out(`${what} ${formatSize(bytes)} in ${t.secs.toFixed(2)} s${rate}; ${check}; sha256 ${sha256}`);
}

const VERIFYING: Record<VerifyMethod, string> = { sha256sum: 'verifying (sha256sum in the guest)', readback: 'verifying (reading the copy back)' };

/** Checks the guest file against `sha256` with the first of `methods` that works; returns how. */
async function verifyCopy(c: QgaClient, guest: string, methods: VerifyMethod[], sha256: string, ctx: Ctx, bar: Progress, chunkSize: number): Promise<VerifyMethod | null> {
  if (methods.length === 0) return null;
  bar.phase(VERIFYING[methods[0]!]);
  const check = await guestSha256(c, guest, methods, { chunkSize, signal: ctx.signal });
  if (check === null) throw new QgaClientError(`cannot verify: ${methods.join(' or ')} did not work in the guest (use --verify none to skip the check)`);
  if (check.sha256 !== sha256) throw new QgaClientError(`checksum mismatch: the copy has sha256 ${sha256}, the guest file ${check.sha256}`);
  return check.method;
}

export const cat: Verb = {
  name: 'cat',
  synopsis: 'GUEST_PATH',
  summary: 'write a guest file to standard output',
  details: 'With --json: {"count": N, "buf-b64": "...", "eof": true}, the shape of one guest-file-read answer.',
  options: {
    'chunk-size': { type: 'string', value: 'BYTES', help: 'bytes per guest-file-read (default 1M)' },
    window: { type: 'string', value: 'N', help: WINDOW_HELP },
  },
  operands: [1, 1],
  cleansUp: true,
  async run(ctx, values, [path]) {
    const options = { chunkSize: chunkOption(values), window: windowOption(values), signal: ctx.signal };
    const c = await ctx.client();
    const parts: Buffer[] = [];
    const r = await readGuestFile(c, path!, async (b) => (ctx.json ? void parts.push(b) : writeOut(process.stdout, b)), options);
    if (ctx.json) ctx.printJson({ count: r.bytes, 'buf-b64': Buffer.concat(parts).toString('base64'), eof: true });
    return 0;
  },
};

export const get: Verb = {
  name: 'get',
  synopsis: 'GUEST_PATH LOCAL_PATH',
  summary: 'copy a guest file here',
  details:
    'Reads the guest file in chunks into a temporary file beside LOCAL_PATH, then (--verify auto)\n' +
    "compares its SHA-256 with the guest's sha256sum when guest-exec is allowed, and only then\n" +
    'renames it to LOCAL_PATH: a failed or interrupted copy leaves nothing there.',
  options: {
    'chunk-size': { type: 'string', value: 'BYTES', help: 'bytes per guest-file-read (default 1M; suffixes K, M)' },
    window: { type: 'string', value: 'N', help: WINDOW_HELP },
    verify: { type: 'string', value: 'HOW', help: 'auto (sha256sum when possible), sha256sum, none' },
    'no-progress': { type: 'boolean', help: 'no progress line' },
  },
  operands: [2, 2],
  cleansUp: true,
  async run(ctx, values, [guest, local]) {
    const chunkSize = chunkOption(values);
    const window = windowOption(values);
    const verify = verifyOption(values, ['auto', 'sha256sum', 'none']);
    const c = await ctx.client();
    const bar = progressFor(ctx, values, 'get', guest!);
    const t0 = performance.now();
    let t1 = t0;
    let verified: VerifyMethod | null = null;
    let result: TransferResult;
    try {
      result = await getFile(c, guest!, local!, {
        chunkSize,
        window,
        signal: ctx.signal,
        onProgress: (d, t) => bar.update(d, t),
        async verify(r) {
          t1 = performance.now();
          if (verify === 'none') return;
          // auto: sha256sum when the agent runs it; without guest-exec the copy stays unverified.
          bar.phase(VERIFYING.sha256sum);
          const check = await guestSha256(c, guest!, ['sha256sum'], { signal: ctx.signal });
          if (check === null && verify === 'sha256sum') throw new QgaClientError('cannot verify: sha256sum did not run in the guest (use --verify none to skip the check)');
          if (check !== null && check.sha256 !== r.sha256) throw new QgaClientError(`checksum mismatch: received sha256 ${r.sha256}, the guest file has ${check.sha256}; nothing was written to ${local}`);
          verified = check?.method ?? null;
        },
      });
    } catch (e) {
      bar.finish();
      if (ctx.signal.aborted) ctx.err(`${PROG}: get: nothing was written to ${local}`);
      throw e;
    }
    bar.finish();
    const t2 = performance.now();
    summary(ctx, 'received', { result, secs: (t1 - t0) / 1000, verified, verifySecs: (t2 - t1) / 1000 });
    return 0;
  },
};

export const put: Verb = {
  name: 'put',
  synopsis: 'LOCAL_PATH GUEST_PATH',
  summary: 'copy a local file to the guest',
  details:
    'Writes LOCAL_PATH to GUEST_PATH (created or truncated) in chunks, then checks it: --verify\n' +
    "auto runs sha256sum in the guest when guest-exec is allowed and otherwise reads the file\n" +
    'back, comparing SHA-256 sums. If the copy fails or is interrupted, the partial GUEST_PATH\n' +
    'is removed when guest-exec is allowed (rm -f), and otherwise named so you can remove it.',
  options: {
    'chunk-size': { type: 'string', value: 'BYTES', help: 'bytes per guest-file-write (default 1M; suffixes K, M)' },
    window: { type: 'string', value: 'N', help: WINDOW_HELP },
    verify: { type: 'string', value: 'HOW', help: VERIFY_HELP },
    'no-progress': { type: 'boolean', help: 'no progress line' },
  },
  operands: [2, 2],
  cleansUp: true,
  async run(ctx, values, [local, guest]) {
    const chunkSize = chunkOption(values);
    const window = windowOption(values);
    const verify = verifyOption(values, ['auto', 'sha256sum', 'readback', 'none']);
    if (!existsSync(local!)) throw new QgaClientError(`${local}: no such file`);
    const c = await ctx.client();
    const bar = progressFor(ctx, values, 'put', local!);
    const t0 = performance.now();
    let opened = false;
    let sent = 0;
    let total: number | undefined;
    let result: TransferResult;
    try {
      result = await putFile(c, local!, guest!, {
        chunkSize,
        window,
        signal: ctx.signal,
        onOpen: () => (opened = true),
        onProgress: (d, t) => {
          sent = d;
          total = t;
          bar.update(d, t);
        },
      });
    } catch (e) {
      bar.finish();
      if (opened) await leftInGuest(ctx, c, guest!, `${sent} of ${total ?? '?'} bytes`);
      throw e;
    }
    const t1 = performance.now();
    const methods: VerifyMethod[] = verify === 'auto' ? ['sha256sum', 'readback'] : verify === 'none' ? [] : [verify as VerifyMethod];
    let verified: VerifyMethod | null;
    try {
      verified = await verifyCopy(c, guest!, methods, result.sha256, ctx, bar, chunkSize);
    } catch (e) {
      bar.finish();
      if (ctx.signal.aborted) ctx.err(`${PROG}: put: ${guest} was copied whole, but not verified`);
      throw e;
    }
    bar.finish();
    summary(ctx, 'sent', { result, secs: (t1 - t0) / 1000, verified, verifySecs: (performance.now() - t1) / 1000 });
    return 0;
  },
};

/** After a failed or interrupted put: removes the partial guest file if it can, and says what is left. */
async function leftInGuest(ctx: Ctx, c: QgaClient, guest: string, part: string): Promise<void> {
  let why = 'the agent does not allow guest-exec, or rm failed';
  try {
    if (await removeGuestFile(c, guest, { timeout: 10_000 })) {
      ctx.err(`${PROG}: put: removed the partial ${guest} from the guest (${part} had been written)`);
      return;
    }
  } catch {
    why = 'the agent could not be reached';
  }
  ctx.err(`${PROG}: put: the guest keeps a partial ${guest} (${part}); remove it there (${why})`);
}
