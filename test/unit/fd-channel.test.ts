// FdChannel: a character device reading EOF (virtio-serial with no host) must not let the agent exit.
import { it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

it('keeps the process alive while it backs off after EOF', async () => {
  // A FIFO opened read-write never blocks the open; the child closes nothing else, so only the
  // channel's back-off timer can keep it running after the first EOF-like empty read.
  const script = `
    import { FdChannel } from ${JSON.stringify(path.join(here, '../../src/transport/fd-channel.ts'))};
    import * as fs from 'node:fs';
    const fd = fs.openSync('/dev/null', 'r');
    let eofs = 0;
    const ch = new FdChannel(fd, { data() {}, eof() { if (++eofs === 3) { process.stdout.write('alive after 3 EOFs\\n'); process.exit(0); } ch.readLater(50); }, failed(m) { console.log('failed', m); } }, { warning() {}, debug() {} });
    ch.start();
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  assert.equal(out, 'alive after 3 EOFs\n');
  assert.equal(code, 0);
});
