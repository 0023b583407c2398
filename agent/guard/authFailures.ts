import { isIP } from 'node:net';

/** A failed authentication read from the journal: who failed, at what. */
export interface AuthFailure {
  address: string;
  /** The guarded service's name (ssh, smtp, ftp, http), as the page shows it. */
  service: string;
  atMs: number;
}

/**
 * What each server writes when a login fails, by the journal's
 * SYSLOG_IDENTIFIER, from the servers' own message formats (OpenSSH's
 * auth.c and the PAM module, Postfix's smtpd SASL warning, Exim's
 * authenticator line, Dovecot's auth, vsftpd's and ProFTPD's login
 * failures, Apache's AH01617/AH01618 and nginx's auth_basic errors). The
 * first capture group is the source address.
 */
const RULES: { ids: RegExp; service: string; patterns: RegExp[] }[] = [
  {
    ids: /^sshd(-session)?$/,
    service: 'ssh',
    patterns: [
      /^Failed (?:password|publickey|keyboard-interactive\/pam|none|hostbased) for (?:invalid user )?.* from (\S+) port \d+/,
      /^Invalid user .* from (\S+) port \d+/,
      /^Disconnecting (?:invalid|authenticating) user .* (\S+) port \d+: Too many authentication failures/,
      /^error: maximum authentication attempts exceeded for .* from (\S+) port \d+/,
    ],
  },
  { ids: /^postfix\/(?:[a-z]+\/)?smtpd$/, service: 'smtp', patterns: [/^warning: [^[]*\[([^\]]+)\]: SASL \S+ authentication failed/] },
  { ids: /^exim4?$/, service: 'smtp', patterns: [/authenticator failed for .*\[([^\]]+)\](?::\d+)?: 535/] },
  { ids: /^dovecot$/, service: 'smtp', patterns: [/auth(?:entication)? failed.*\brip=([0-9A-Fa-f:.]+)/] },
  { ids: /^vsftpd$/, service: 'ftp', patterns: [/FAIL LOGIN: Client "([^"]+)"/] },
  { ids: /^proftpd$/, service: 'ftp', patterns: [/\[([0-9A-Fa-f:.]+)\]\) - USER .*(?:Login failed|no such user)/] },
  { ids: /^(?:apache2|httpd)$/, service: 'http', patterns: [/AH0161[78]: .*\[client ([0-9A-Fa-f:.]+):\d+\]|\[client ([0-9A-Fa-f:.]+):\d+\] AH0161[78]:/] },
  { ids: /^nginx$/, service: 'http', patterns: [/(?:user ".*" was not found in|user ".*": password mismatch).*client: ([0-9A-Fa-f:.]+)/] },
];

/** The SYSLOG_IDENTIFIER matches journalctl is asked for (one OR'ed match per server). */
export const JOURNAL_IDENTIFIERS = ['sshd', 'sshd-session', 'postfix/smtpd', 'postfix/submission/smtpd', 'postfix/smtps/smtpd', 'exim', 'exim4', 'dovecot', 'vsftpd', 'proftpd', 'apache2', 'httpd', 'nginx'];

/** One journal entry (journalctl -o json) as a failed authentication, or undefined. An address that is not an IP (a name from a reverse lookup) is never taken. */
export function parseAuthFailure(entry: Record<string, unknown>): AuthFailure | undefined {
  const id = entry.SYSLOG_IDENTIFIER;
  const message = entry.MESSAGE;
  // journald stores a message that is not UTF-8 as an array of bytes: no server above writes one for a failed login.
  if (typeof id !== 'string' || typeof message !== 'string') return undefined;
  for (const rule of RULES) {
    if (!rule.ids.test(id)) continue;
    for (const p of rule.patterns) {
      const m = p.exec(message);
      const raw = m?.slice(1).find((g) => g !== undefined);
      if (!raw) continue;
      const address = raw.startsWith('::ffff:') && isIP(raw.slice(7)) === 4 ? raw.slice(7) : raw;
      if (!isIP(address)) return undefined;
      const us = Number(entry.__REALTIME_TIMESTAMP);
      return { address, service: rule.service, atMs: Number.isFinite(us) ? Math.floor(us / 1000) : Date.now() };
    }
  }
  return undefined;
}

/**
 * Counts failures per source over a sliding window and says which sources
 * reached the limit. Bounded: at most `maxSources` sources are tracked (the
 * oldest forgotten first), and each keeps at most `limit` times.
 */
export class FailureCounter {
  private readonly seen = new Map<string, { times: number[]; services: Set<string> }>();

  constructor(private readonly maxSources = 20_000) {}

  /** Adds failures; returns the sources at or over `limit` within `windowMs` of their newest failure, with their services. */
  add(failures: AuthFailure[], limit: number, windowMs: number): Map<string, string[]> {
    const over = new Map<string, string[]>();
    for (const f of failures) {
      let s = this.seen.get(f.address);
      if (s) this.seen.delete(f.address);
      s ??= { times: [], services: new Set() };
      s.times = [...s.times.filter((t) => f.atMs - t < windowMs), f.atMs].slice(-limit);
      s.services.add(f.service);
      this.seen.set(f.address, s);
      if (this.seen.size > this.maxSources) this.seen.delete(this.seen.keys().next().value!);
      if (s.times.length >= limit) over.set(f.address, [...s.services].sort());
    }
    for (const address of over.keys()) this.seen.delete(address);
    return over;
  }
}
