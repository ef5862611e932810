// npm run demo: start qga-ts on a unix socket in a temp dir and talk to it, printing each exchange.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'qga-demo-'));
const sock = join(dir, 'qga.sock');
const agent = spawn(process.execPath, ['dist/main.js', '-m', 'unix-listen', '-p', sock, '-t', dir, '-v'], { stdio: ['ignore', 'inherit', 'pipe'] });
let agentLog = '';
agent.stderr.on('data', (d) => (agentLog += d));
console.log(`qga-ts started: pid ${agent.pid}, socket ${sock}`);

const requests = [
  '{"execute":"guest-sync-delimited","arguments":{"id":8327645981726354123}}',
  '{"execute":"guest-ping"}',
  '{"execute":"guest-get-time"}',
  '{"execute":"guest-get-host-name"}',
  '{"execute":"guest-get-osinfo"}',
  '{"execute":"guest-get-timezone"}',
  '{"execute":"guest-get-load"}',
  '{"execute":"guest-sync","arguments":{"id":"not a number"},"id":1}',
];

function open() {
  return new Promise((resolve) => {
    const tryConnect = () => {
      const s = connect(sock, () => resolve(s));
      s.once('error', () => setTimeout(tryConnect, 20));
    };
    tryConnect();
  });
}

const s = await open();
let buf = '';
s.on('data', (d) => (buf += d.toString('latin1')));
s.write(Buffer.from([0xff])); // flush any stale partial request, as real clients do
for (const req of requests) {
  const lines = () => buf.split('\n').length - 1;
  const before = lines();
  s.write(req);
  const want = before + (req.includes('sync-delimited') ? 2 : 1);
  while (lines() < want) await new Promise((r) => setTimeout(r, 5));
  console.log(`\n→ ${req}\n← ${buf.split('\n')[want - 1].replace('\xff', '<0xFF>')}`);
}
s.destroy();
agent.kill('SIGTERM');
agent.on('exit', (code) => {
  console.log(`\nqga-ts exited with status ${code}`);
  rmSync(dir, { recursive: true, force: true });
});
