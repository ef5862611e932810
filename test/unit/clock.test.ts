// guest-get-time's clock: one CLOCK_REALTIME read at the call, microsecond precision (qemu-ga's
// g_get_real_time() * 1000), checked against host reads taken around it in this process.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { guestGetTime } from '../../src/commands/time.ts';
import { hostRealtimeNs } from '../support/realtime.ts';

describe('guest-get-time clock', () => {
  it('lies between host reads taken just before and just after, from the very first call', () => {
    let wholeMs = 0;
    for (let i = 0; i < 1000; i++) {
      const before = (hostRealtimeNs() / 1000n) * 1000n;
      const ns = guestGetTime();
      const after = hostRealtimeNs();
      assert.ok(before <= ns && ns <= after, `call ${i}: ${before} <= ${ns} <= ${after}`);
      assert.equal(ns % 1000n, 0n, 'a microsecond clock times 1000');
      if (ns % 1_000_000n === 0n) wholeMs++;
    }
    assert.ok(wholeMs < 100, `${wholeMs} of 1000 values were whole milliseconds`);
  });
});
