// npm run demo: start qga-ts on a unix socket in a temp dir, then drive it with qga-client.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'qga-demo-'));
const sock = join(dir, 'qga.sock');
const agent = spawn(process.execPath, ['dist/main.js', '-m', 'unix-listen', '-p', sock, '-t', dir], { stdio: 'inherit' });
console.log(`$ node dist/main.js -m unix-listen -p ${sock} -t ${dir}     # qga-ts, pid ${agent.pid}`);
while (!existsSync(sock)) await new Promise((r) => setTimeout(r, 10));

const verbs = [
  ['ping'],
  ['osinfo'],
  ['time'],
  ['exec', '--', 'sh', '-c', 'echo "hello from $(hostname)"; uname -sr'],
  ['df'],
  ['call', 'guest-sync', '{"id": 9223372036854775807}'],
];
for (const verb of verbs) {
  console.log(`\n$ qga-client --socket ${sock} ${verb.map((a) => (/\s|"/.test(a) ? `'${a}'` : a)).join(' ')}`);
  spawnSync(process.execPath, ['dist/client.js', '--socket', sock, ...verb], { stdio: 'inherit' });
}
agent.kill('SIGTERM');
agent.on('exit', (code) => {
  console.log(`\nqga-ts exited with status ${code}`);
  rmSync(dir, { recursive: true, force: true });
});
