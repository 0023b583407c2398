import { describe, expect, it } from 'vitest';
import { FailureCounter, parseAuthFailure } from '../../../agent/guard/authFailures.js';

const at = 1_796_623_201_222_151; // µs, as journald writes __REALTIME_TIMESTAMP
const entry = (id: string, message: unknown) => ({ SYSLOG_IDENTIFIER: id, MESSAGE: message, __REALTIME_TIMESTAMP: String(at) });

describe('failed logins in the journal', () => {
  it("reads each server's own words for a failed login", () => {
    const cases: [string, string, string, string][] = [
      ['sshd', 'Failed password for root from 198.51.100.7 port 52014 ssh2', '198.51.100.7', 'ssh'],
      ['sshd-session', 'Failed password for invalid user admin from 2001:db8::7 port 40000 ssh2', '2001:db8::7', 'ssh'],
      ['sshd', 'Invalid user oracle from 198.51.100.8 port 33333', '198.51.100.8', 'ssh'],
      ['sshd', 'Failed publickey for git from 198.51.100.9 port 1 ssh2: RSA SHA256:abc', '198.51.100.9', 'ssh'],
      ['sshd', 'Disconnecting authenticating user root 198.51.100.10 port 5: Too many authentication failures [preauth]', '198.51.100.10', 'ssh'],
      ['postfix/submission/smtpd', 'warning: unknown[198.51.100.11]: SASL LOGIN authentication failed: UGFzc3dvcmQ6', '198.51.100.11', 'smtp'],
      ['postfix/smtpd', 'warning: mail.example[2001:db8::11]: SASL PLAIN authentication failed:', '2001:db8::11', 'smtp'],
      ['exim', 'dovecot_login authenticator failed for (User) [198.51.100.12]:50112: 535 Incorrect authentication data (set_id=bob)', '198.51.100.12', 'smtp'],
      ['dovecot', 'auth: pam(bob,198.51.100.13): pam_authenticate() failed: auth failed, method=PLAIN, rip=198.51.100.13, lip=203.0.113.10', '198.51.100.13', 'smtp'],
      ['vsftpd', '[bob] FAIL LOGIN: Client "::ffff:198.51.100.14"', '198.51.100.14', 'ftp'],
      ['proftpd', 'host.example (198.51.100.15[198.51.100.15]) - USER bob (Login failed): Incorrect password', '198.51.100.15', 'ftp'],
      ['apache2', '[auth_basic:error] [pid 7] [client 198.51.100.16:4711] AH01617: user bob: authentication failure for "/admin": Password Mismatch', '198.51.100.16', 'http'],
      ['nginx', '2026/12/07 10:00:00 [error] 9#9: *1 user "bob": password mismatch, client: 198.51.100.17, server: _, request: "GET / HTTP/1.1"', '198.51.100.17', 'http'],
    ];
    for (const [id, message, address, service] of cases) expect(parseAuthFailure(entry(id, message)), message).toEqual({ address, service, atMs: Math.floor(at / 1000) });
  });

  it('takes nothing else: a successful login, another program, a name instead of an address, a binary message', () => {
    expect(parseAuthFailure(entry('sshd', 'Accepted publickey for root from 198.51.100.7 port 1 ssh2'))).toBeUndefined();
    expect(parseAuthFailure(entry('cron', 'Failed password for root from 198.51.100.7 port 1 ssh2'))).toBeUndefined();
    expect(parseAuthFailure(entry('sshd', 'Failed password for root from attacker.example port 1 ssh2'))).toBeUndefined();
    expect(parseAuthFailure(entry('sshd', [70, 97, 105, 108]))).toBeUndefined();
    // A user name cannot smuggle another address in: the source is what follows the last "from".
    expect(parseAuthFailure(entry('sshd', 'Failed password for invalid user x from 10.0.0.1 port 1 from 198.51.100.7 port 52014 ssh2'))?.address).toBe('198.51.100.7');
  });

  it('counts per source in a sliding window, bounded', () => {
    const c = new FailureCounter(3);
    const f = (address: string, s: number) => ({ address, service: 'ssh', atMs: s * 1000 });
    expect(c.add([f('198.51.100.1', 0), f('198.51.100.1', 100), f('198.51.100.1', 200), f('198.51.100.1', 300)], 5, 600_000).size).toBe(0);
    expect([...c.add([f('198.51.100.1', 400)], 5, 600_000)]).toEqual([['198.51.100.1', ['ssh']]]);
    // Spread beyond the window: never five within ten minutes.
    const slow = Array.from({ length: 10 }, (_, i) => f('198.51.100.2', i * 200));
    expect(c.add(slow, 5, 600_000).size).toBe(0);
    // Past maxSources the oldest source is forgotten.
    c.add([f('198.51.100.3', 0), f('198.51.100.4', 0), f('198.51.100.5', 0)], 5, 600_000);
    expect(c.add([f('198.51.100.2', 2000), f('198.51.100.2', 2001)], 5, 600_000).size).toBe(0);
  });
});
