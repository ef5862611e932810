// qga-client transfer benchmark: our get/put against the ways existing clients move files, in
// one run, through the same agent (qga-ts by default), with the ratios.
//
//   tsx bench/client.ts [--file-mib 256] [--agents qga-ts,qemu-ga] [--json out.json]
//                       [--qga-ts 'node dist/main.js']   (the qga-ts command)
//
// get — qga-client's getFile (1 MiB guest-file-read chunks, one request at a time, exact JSON
//   codec, sha256 while receiving, written to a local file)
//   vs QEMU's qemu-ga-client `cat` (python/qemu/utils/qemu_ga_client.py), its loop
//   reimplemented: guest-ping, guest-sync with a random 32-bit id until it matches,
//   guest-file-open, then guest-file-read count=1024 until eof, base64-decoding each chunk,
//   then guest-file-close — one request at a time on one connection. Generous to the
//   baseline: chunks are collected in a list (the script's `data += chunk` is quadratic),
//   replies go through JSON.parse on a minimal line reader. For information, the same loop
//   is also driven through QgaClient, the machinery qga-client itself uses.
// put — qga-client's putFile (1 MiB guest-file-write chunks, one at a time)
//   vs a one-shot 60 KiB-per-call writer: Proxmox VE's file-write API (PVE/API2/Qemu/Agent.pm,
//   at most 60 KiB of content per call), where every agent command is a one-shot exchange
//   (PVE::QMPClient): connect, send guest-sync-delimited and the command in one write
//   without a 0xFF, read the two answers after the 0xFF, close — and each call is three of
//   them: guest-file-open, guest-file-write, guest-file-close. Proxmox opens with "wb"; to
//   build one file from many calls the baseline opens the first chunk with "wb" and the rest
//   with "ab".
//   For information, also a single-connection writer: one open, 60 KiB guest-file-write calls
//   one at a time, one close.
// Every result is checked: sha256 of what arrived (get) or of the guest file on disk (put).
// MiB/s is 2^20 payload bytes per second of wall time, client work included.

import { createHash, randomBytes, randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, QEMU_GA, QGA_TS, haveQemuGa } from '../test/support/agent.ts';
import { QgaClient } from '../src/client/client.ts';
import { getFile, putFile, DEFAULT_CHUNK, DEFAULT_WINDOW } from '../src/client/transfer.ts';

const { values: opt } = parseArgs({
  options: {
    'file-mib': { type: 'string', default: '256' },
    agents: { type: 'string', default: 'qga-ts' },
    json: { type: 'string' },
    'qga-ts': { type: 'string' },
  },
});
const FILE_BYTES = Number(opt['file-mib']) * 1024 * 1024;
const PVE_CHUNK = 60 * 1024;
const CAT_CHUNK = 1024;

/** A minimal line reader: one request at a time, JSON.parse on each answer. */
class LineClient {
  private parts: Buffer[] = [];
  private lines: Buffer[] = [];
  private waiting: ((l: Buffer) => void) | null = null;
  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      let start = 0;
      for (let nl = d.indexOf(10); nl >= 0; nl = d.indexOf(10, start)) {
        this.parts.push(d.subarray(start, nl));
        const line = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
        this.parts = [];
        start = nl + 1;
        const w = this.waiting;
        if (w) {
          this.waiting = null;
          w(line);
        } else this.lines.push(line);
      }
      if (start < d.length) this.parts.push(d.subarray(start));
    });
  }
  static connect(p: string): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(p, () => resolve(new LineClient(s)));
      s.once('error', reject);
    });
  }
  next(): Promise<Buffer> {
    const l = this.lines.shift();
    if (l) return Promise.resolve(l);
    return new Promise<Buffer>((r) => (this.waiting = r));
  }
  async cmd(execute: string, args?: object): Promise<any> {
    this.sock.write(JSON.stringify(args === undefined ? { execute } : { execute, arguments: args }) + '\n');
    const reply = JSON.parse((await this.next()).toString('latin1'));
    if (reply.error) throw new Error(`${execute}: ${reply.error.desc}`);
    return reply.return;
  }
  close(): void {
    this.sock.destroy();
  }
}

/** qemu-ga-client's `cat`: ping, guest-sync loop, open, read count=1024 until eof, close. */
async function qemuGaClientCat(sock: string, file: string): Promise<Buffer> {
  const c = await LineClient.connect(sock);
  try {
    return await catLoop(c, file);
  } finally {
    c.close();
  }
}

/** The same loop driven through QgaClient (same client machinery as qga-client get). */
async function qemuGaClientCatViaQgaClient(sock: string, file: string): Promise<Buffer> {
  const client = await QgaClient.connect({ address: sock, timeout: 120_000 });
  try {
    return await catLoop({ cmd: (execute, args) => client.execute(execute as never, args as never) as Promise<any> }, file);
  } finally {
    await client.close();
  }
}

async function catLoop(c: { cmd(execute: string, args?: object): Promise<any> }, file: string): Promise<Buffer> {
  {
    await c.cmd('guest-ping');
    const uid = randomInt(0, 2 ** 32);
    for (;;) if (BigInt(await c.cmd('guest-sync', { id: uid })) === BigInt(uid)) break;
    const handle = await c.cmd('guest-file-open', { path: file });
    const data: Buffer[] = [];
    try {
      let eof = false;
      while (!eof) {
        const ret = await c.cmd('guest-file-read', { handle, count: CAT_CHUNK });
        data.push(Buffer.from(ret['buf-b64'], 'base64'));
        eof = ret.eof;
      }
    } finally {
      await c.cmd('guest-file-close', { handle });
    }
    return Buffer.concat(data);
  }
}

let pveSeq = 0;

/** One PVE::QMPClient exchange: fresh connection, sync-delimited + command in one write. */
function pveOneShot(sock: string, execute: string, args: object): Promise<any> {
  const id = BigInt(`${process.pid}0${++pveSeq}`);
  const text = `{"execute":"guest-sync-delimited","arguments":{"id":${id}}}\n${JSON.stringify({ execute, arguments: args })}\n`;
  return new Promise((resolve, reject) => {
    const s = net.connect(sock, () => s.write(text));
    let buf: Buffer = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      const ff = buf.indexOf(0xff);
      if (ff < 0) return;
      const rest = buf.subarray(ff + 1).toString('latin1');
      const lines = rest.split('\n');
      if (lines.length < 3) return;
      s.destroy();
      const sync = JSON.parse(lines[0]!);
      if (BigInt(sync.return) !== id) return reject(new Error('sync id mismatch'));
      const reply = JSON.parse(lines[1]!);
      if (reply.error) reject(new Error(`${execute}: ${reply.error.desc}`));
      else resolve(reply.return);
    });
    s.on('error', reject);
  });
}

/** Proxmox's file-write API, called once per 60 KiB (first "wb", then "ab"). */
async function pveFileWrite(sock: string, file: string, data: Buffer): Promise<void> {
  for (let off = 0; off < data.length || off === 0; off += PVE_CHUNK) {
    const content = data.subarray(off, off + PVE_CHUNK);
    const handle = await pveOneShot(sock, 'guest-file-open', { path: file, mode: off === 0 ? 'wb' : 'ab' });
    await pveOneShot(sock, 'guest-file-write', { handle, 'buf-b64': content.toString('base64') });
    await pveOneShot(sock, 'guest-file-close', { handle });
    if (data.length === 0) break;
  }
}

/** One connection: open, 60 KiB writes one at a time, close. */
async function singleConnectionWriter(sock: string, file: string, data: Buffer): Promise<void> {
  const c = await LineClient.connect(sock);
  try {
    const handle = await c.cmd('guest-file-open', { path: file, mode: 'wb' });
    for (let off = 0; off < data.length; off += PVE_CHUNK) {
      await c.cmd('guest-file-write', { handle, 'buf-b64': data.subarray(off, off + PVE_CHUNK).toString('base64') });
    }
    await c.cmd('guest-file-close', { handle });
  } finally {
    c.close();
  }
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, (performance.now() - t0) / 1000];
}

interface Row {
  agent: string;
  op: string;
  method: string;
  seconds: number;
  mibPerS: number;
}

const rows: Row[] = [];
const ratios: Record<string, number> = {};

function report(agent: string, op: string, method: string, seconds: number): void {
  const mibPerS = FILE_BYTES / 1048576 / seconds;
  rows.push({ agent, op, method, seconds, mibPerS });
  console.log(`  ${op.padEnd(4)} ${method.padEnd(58)} ${seconds.toFixed(2).padStart(8)} s ${mibPerS.toFixed(1).padStart(8)} MiB/s`);
}

async function benchAgent(name: string, command: readonly string[]): Promise<void> {
  const agent = await Agent.start(command);
  try {
    const dir = agent.dir;
    const src = path.join(dir, 'src.bin');
    const data = randomBytes(FILE_BYTES);
    fs.writeFileSync(src, data);
    const want = sha(data);
    console.log(`\n${name} (${command.join(' ')}), ${FILE_BYTES / 1048576} MiB, unix socket`);

    // get
    const client = await QgaClient.connect({ address: agent.sock, timeout: 120_000 });
    const [got, tGet] = await timed(() => getFile(client, src, path.join(dir, 'get.bin')));
    if (got.sha256 !== want || sha(fs.readFileSync(path.join(dir, 'get.bin'))) !== want) throw new Error('get: checksum mismatch');
    report(name, 'get', `qga-client get (${DEFAULT_CHUNK / 1048576} MiB chunks, ${DEFAULT_WINDOW} in flight)`, tGet);
    // put
    const [put, tPut] = await timed(() => putFile(client, src, path.join(dir, 'put.bin')));
    if (put.sha256 !== want || sha(fs.readFileSync(path.join(dir, 'put.bin'))) !== want) throw new Error('put: checksum mismatch');
    await client.close();

    const [cat, tCat] = await timed(() => qemuGaClientCat(agent.sock, src));
    if (sha(cat) !== want) throw new Error('cat: checksum mismatch');
    report(name, 'get', `qemu-ga-client cat loop (count=${CAT_CHUNK}, base64 per chunk)`, tCat);
    ratios[`${name} get`] = tCat / tGet;
    console.log(`  get  ratio: ${(tCat / tGet).toFixed(1)}x faster (target >= 5x)`);
    const [cat2, tCat2] = await timed(() => qemuGaClientCatViaQgaClient(agent.sock, src));
    if (sha(cat2) !== want) throw new Error('cat via QgaClient: checksum mismatch');
    report(name, 'get', '(info) the same cat loop driven through QgaClient', tCat2);
    ratios[`${name} get vs cat loop through QgaClient`] = tCat2 / tGet;
    console.log(`  get  ratio vs that: ${(tCat2 / tGet).toFixed(1)}x`);

    report(name, 'put', `qga-client put (${DEFAULT_CHUNK / 1048576} MiB chunks, ${DEFAULT_WINDOW} in flight)`, tPut);
    const [, tPve] = await timed(() => pveFileWrite(agent.sock, path.join(dir, 'pve.bin'), data));
    if (sha(fs.readFileSync(path.join(dir, 'pve.bin'))) !== want) throw new Error('pve: checksum mismatch');
    report(name, 'put', 'one-shot 60 KiB-per-call writer (Proxmox file-write)', tPve);
    ratios[`${name} put`] = tPve / tPut;
    console.log(`  put  ratio: ${(tPve / tPut).toFixed(1)}x faster (target >= 5x)`);
    const [, tOne] = await timed(() => singleConnectionWriter(agent.sock, path.join(dir, 'one.bin'), data));
    if (sha(fs.readFileSync(path.join(dir, 'one.bin'))) !== want) throw new Error('single-connection writer: checksum mismatch');
    report(name, 'put', '(info) one connection, 60 KiB guest-file-write calls', tOne);
    ratios[`${name} put vs one-connection 60 KiB`] = tOne / tPut;
    console.log(`  put  ratio vs one connection: ${(tOne / tPut).toFixed(1)}x`);
  } finally {
    await agent.stop();
    agent.cleanup();
  }
}

const wanted = opt.agents!.split(',').map((s) => s.trim());
for (const name of wanted) {
  if (name === 'qga-ts') await benchAgent('qga-ts', opt['qga-ts'] === undefined ? QGA_TS : opt['qga-ts'].split(/\s+/).filter((w) => w !== ''));
  else if (name === 'qemu-ga') {
    if (haveQemuGa) await benchAgent('qemu-ga', [QEMU_GA]);
    else console.log(`\nqemu-ga: skipped (${QEMU_GA} is not installed)`);
  } else throw new Error(`unknown agent '${name}' (qga-ts, qemu-ga)`);
}

console.log('\nratios:');
for (const [k, v] of Object.entries(ratios)) console.log(`  ${k}: ${v.toFixed(1)}x`);
if (opt.json) fs.writeFileSync(opt.json, JSON.stringify({ fileBytes: FILE_BYTES, rows, ratios }, null, 2) + '\n');
