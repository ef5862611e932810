// Copies: cat, get, put.

import { existsSync } from 'node:fs';
import { QgaClientError } from '../../errors.ts';
import { formatSize } from '../../format.ts';
import { createProgress } from '../../progress.ts';
import { DEFAULT_CHUNK, DEFAULT_WINDOW, MAX_CHUNK, getFile, guestSha256, putFile, readGuestFile, type VerifyMethod } from '../../transfer.ts';
import { writeOut } from '../io.ts';
import { UsageError, sizeOption, type Ctx, type Values } from '../verb.ts';
import type { Verb } from '../verb.ts';

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

async function transferSummary(ctx: Ctx, what: string, bytes: number, secs: number, sha256: string, verified: VerifyMethod | null): Promise<void> {
  if (ctx.json) {
    ctx.printJson({ bytes, sha256, seconds: Number(secs.toFixed(3)), verified });
    return;
  }
  const rate = secs > 0 ? `, ${formatSize(bytes / secs)}/s` : '';
  ctx.out(`${what} ${formatSize(bytes)} in ${secs.toFixed(2)} s${rate}; sha256 ${sha256}${verified === null ? ' (not verified)' : `, verified (${verified})`}`);
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
  async run(ctx, values, [path]) {
    const options = { chunkSize: chunkOption(values), window: windowOption(values) };
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
    "Reads the guest file in chunks into LOCAL_PATH, then (--verify auto) compares its SHA-256\n" +
    "with the guest's sha256sum when guest-exec is allowed.",
  options: {
    'chunk-size': { type: 'string', value: 'BYTES', help: 'bytes per guest-file-read (default 1M; suffixes K, M)' },
    window: { type: 'string', value: 'N', help: WINDOW_HELP },
    verify: { type: 'string', value: 'HOW', help: 'auto (sha256sum when possible), sha256sum, none' },
    'no-progress': { type: 'boolean', help: 'no progress bar' },
  },
  operands: [2, 2],
  async run(ctx, values, [guest, local]) {
    const chunkSize = chunkOption(values);
    const window = windowOption(values);
    const verify = verifyOption(values, ['auto', 'sha256sum', 'none']);
    const c = await ctx.client();
    const bar = createProgress('get', process.stderr, ctx.progress(values));
    const t0 = performance.now();
    let r;
    try {
      r = await getFile(c, guest!, local!, { chunkSize, window, onProgress: (d, t) => bar.update(d, t) });
    } finally {
      bar.finish();
    }
    const secs = (performance.now() - t0) / 1000;
    const check = verify === 'none' ? null : await guestSha256(c, guest!, ['sha256sum']);
    if (check === null && verify === 'sha256sum') throw new QgaClientError('cannot verify: sha256sum did not run in the guest');
    if (check !== null && check.sha256 !== r.sha256) throw new QgaClientError(`checksum mismatch: received ${r.sha256}, the guest file has ${check.sha256}`);
    await transferSummary(ctx, 'received', r.bytes, secs, r.sha256, check?.method ?? null);
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
    'back, comparing SHA-256 sums.',
  options: {
    'chunk-size': { type: 'string', value: 'BYTES', help: 'bytes per guest-file-write (default 1M; suffixes K, M)' },
    window: { type: 'string', value: 'N', help: WINDOW_HELP },
    verify: { type: 'string', value: 'HOW', help: VERIFY_HELP },
    'no-progress': { type: 'boolean', help: 'no progress bar' },
  },
  operands: [2, 2],
  async run(ctx, values, [local, guest]) {
    const chunkSize = chunkOption(values);
    const window = windowOption(values);
    const verify = verifyOption(values, ['auto', 'sha256sum', 'readback', 'none']);
    if (!existsSync(local!)) throw new QgaClientError(`${local}: no such file`);
    const c = await ctx.client();
    const bar = createProgress('put', process.stderr, ctx.progress(values));
    const t0 = performance.now();
    let r;
    try {
      r = await putFile(c, local!, guest!, { chunkSize, window, onProgress: (d, t) => bar.update(d, t) });
    } finally {
      bar.finish();
    }
    const secs = (performance.now() - t0) / 1000;
    const methods: VerifyMethod[] = verify === 'auto' ? ['sha256sum', 'readback'] : verify === 'none' ? [] : [verify as VerifyMethod];
    const check = methods.length === 0 ? null : await guestSha256(c, guest!, methods, { chunkSize });
    if (check === null && methods.length > 0) throw new QgaClientError(`cannot verify: ${verify} did not work in the guest`);
    if (check !== null && check.sha256 !== r.sha256) throw new QgaClientError(`checksum mismatch: sent ${r.sha256}, the guest file has ${check.sha256}`);
    await transferSummary(ctx, 'sent', r.bytes, secs, r.sha256, check?.method ?? null);
    return 0;
  },
};
