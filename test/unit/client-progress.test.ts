// The copy's progress line: name, bytes, rate, ETA; the verifying phase; erased at the end;
// nothing at all when disabled (not a terminal).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createProgress, formatDuration, progressLine } from '../../src/client/progress.ts';

function fakeStream(columns = 120) {
  const writes: string[] = [];
  return { writes, stream: { columns, isTTY: true, write: (t: string) => void writes.push(t) } as unknown as NodeJS.WriteStream };
}

describe('progress', () => {
  it('the line has the name, a bar and percentage, bytes, rate and ETA', () => {
    const line = progressLine('get', 'big.iso', 100 * 1024 * 1024, 400 * 1024 * 1024, 2, 200);
    assert.equal(line, 'get big.iso  [#####---------------]  25.0%  100.0 MiB / 400.0 MiB  50.0 MiB/s  ETA 0:06');
    // 80 columns: a shorter bar; 50: no bar; 30: the name is cut, the figures stay.
    const at80 = progressLine('get', 'big.iso', 100 * 1024 * 1024, 400 * 1024 * 1024, 2, 80);
    assert.ok(at80.length <= 79 && /\[#+-+\]  25\.0%.*ETA 0:06$/.test(at80), at80);
    assert.equal(progressLine('get', 'big.iso', 100 * 1024 * 1024, 400 * 1024 * 1024, 2, 66), 'get big.iso   25.0%  100.0 MiB / 400.0 MiB  50.0 MiB/s  ETA 0:06');
    assert.equal(progressLine('cat', 'pipe', 2048, undefined, 1, 200), 'cat pipe  2.0 KiB  2.0 KiB/s');
    const cut = progressLine('get', 'x'.repeat(300), 1, 2, 1, 60);
    assert.ok(cut.length <= 59 && cut.includes('…') && cut.endsWith('ETA 0:01'), cut);
  });

  it('durations', () => {
    assert.equal(formatDuration(0), '0:00');
    assert.equal(formatDuration(61.4), '1:01');
    assert.equal(formatDuration(3725), '1:02:05');
  });

  it('draws in place, shows the verifying phase, then erases the line', () => {
    const { writes, stream } = fakeStream();
    let t = 0;
    const p = createProgress({ label: 'put', name: 'a.img', stream, enabled: true, now: () => t });
    t = 1000;
    p.update(512 * 1024, 1024 * 1024);
    t = 1050;
    p.update(600 * 1024, 1024 * 1024); // within the redraw interval: skipped
    t = 2000;
    p.update(1024 * 1024, 1024 * 1024);
    p.phase('verifying (sha256sum in the guest)');
    p.finish();
    p.update(1, 2); // after finish: nothing
    assert.equal(writes.length, 4);
    assert.match(writes[0]!, /^\r\x1b\[Kput a\.img {2}\[#{10}-{10}\] {2}50\.0% {2}512\.0 KiB \/ 1\.0 MiB {2}512\.0 KiB\/s {2}ETA 0:01$/);
    assert.match(writes[1]!, /100\.0% {2}1\.0 MiB \/ 1\.0 MiB {2}512\.0 KiB\/s$/);
    assert.equal(writes[2], '\r\x1b[Kput a.img: verifying (sha256sum in the guest) 0:00');
    assert.equal(writes[3], '\r\x1b[K');
  });

  it('disabled: writes nothing', () => {
    const { writes, stream } = fakeStream();
    const p = createProgress({ label: 'get', name: 'x', stream: { ...stream, isTTY: false } as NodeJS.WriteStream });
    p.update(1, 2);
    p.phase('verifying');
    p.finish();
    assert.deepEqual(writes, []);
  });
});
