import { describe, expect, it } from 'vitest';
import { ACCOUNTING, HandshakeCounting } from '../../../agent/guard/HandshakeCounting.js';
import type { CommandRunner } from '../../../proto/runtime/CommandRunner.js';
import { recordingLog } from '../../helpers/recordingLog.js';

/** A host's accounting switch behind sysctl, which the test can make refuse writes (a container without the right). */
function host(value: '0' | '1', writable = true) {
  const sysctl = { value, writable, calls: [] as string[] };
  const runner: CommandRunner = {
    async run(command, args) {
      sysctl.calls.push(`${command} ${args.join(' ')}`);
      if (args[0] === '-n') return { code: 0, stdout: `${sysctl.value}\n`, stderr: '' };
      if (!sysctl.writable) return { code: 255, stdout: '', stderr: `sysctl: permission denied on key "${ACCOUNTING}"` };
      sysctl.value = '1';
      return { code: 0, stdout: '', stderr: '' };
    },
  };
  return { sysctl, runner };
}

describe('conntrack accounting for the handshake meters', () => {
  it('leaves it alone when on, turns it on when off, and again when someone turns it off', async () => {
    const { log, lines } = recordingLog();
    const on = host('1');
    const c = new HandshakeCounting(on.runner, log);
    expect(await c.keep()).toBe(true);
    expect(on.sysctl.calls).toEqual([`sysctl -n ${ACCOUNTING}`]);
    expect(c.handshakes && c.watched).toBe(true);

    const off = host('0');
    const d = new HandshakeCounting(off.runner, log);
    expect(await d.keep()).toBe(true);
    expect(off.sysctl.value).toBe('1');
    off.sysctl.value = '0';
    expect(await d.keep()).toBe(true);
    expect(off.sysctl.value).toBe('1');
    expect(lines.map((l) => l.msg)).toEqual([expect.stringMatching(/^conntrack accounting on/), expect.stringMatching(/^conntrack accounting was turned off on the host: turned on again/)]);
  });

  it('where it cannot be turned on, the meters count SYNs for good, said once', async () => {
    const { log, lines } = recordingLog();
    const locked = host('0', false);
    const c = new HandshakeCounting(locked.runner, log);
    expect(c.handshakes).toBe(true);
    // false: the caller makes the table again, counting SYNs.
    expect(await c.keep()).toBe(false);
    expect(c.handshakes).toBe(false);
    expect(c.watched).toBe(false);
    const calls = locked.sysctl.calls.length;
    expect(await c.keep()).toBe(true);
    expect(locked.sysctl.calls).toHaveLength(calls);
    expect(lines.filter((l) => l.level === 40).map((l) => [l.msg, l.err])).toEqual([[expect.stringMatching(/cannot be turned on: the guard counts SYNs instead/), expect.stringContaining('permission denied')]]);
  });
});
