import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ExecRunner } from '../../proto/runtime/CommandRunner.js';

const hasSysctl = (() => {
  try {
    execFileSync('sysctl', ['-n', 'kernel.ostype'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!hasSysctl) console.log('execRunnerSysctl: skipped, no sysctl here (Debian procps)');

describe.skipIf(!hasSysctl)('ExecRunner answering sysctl -n from /proc/sys', () => {
  it.each(['kernel.ostype', 'kernel.pid_max', 'net.ipv4.ip_local_port_range', 'net.core.somaxconn'])('gives what sysctl -n %s prints', async (key) => {
    const r = await new ExecRunner().run('sysctl', ['-n', key]);
    expect(r).toEqual({ code: 0, stdout: execFileSync('sysctl', ['-n', key], { encoding: 'utf8' }), stderr: '' });
  });

  it("leaves to sysctl what only sysctl can answer: a key that does not exist, a name that is not a key's", async () => {
    const missing = await new ExecRunner().run('sysctl', ['-n', 'net.cordon.no_such_key']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/cannot stat|No such file/);
    const odd = await new ExecRunner().run('sysctl', ['-n', '../../etc/hostname']);
    expect(odd.code).not.toBe(0);
    expect(odd.stdout).toBe('');
  });
});
