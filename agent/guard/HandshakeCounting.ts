import type { CommandRunner } from '../../proto/runtime/CommandRunner.js';
import type { Log } from '../../proto/runtime/Log.js';

/** Conntrack's accounting switch, per network namespace: the packet count the handshake meters read needs it. */
export const ACCOUNTING = 'net.netfilter.nf_conntrack_acct';

/**
 * Whether the guard's meters count completed handshakes (guardRuleset.ts),
 * which needs conntrack's accounting, off by default on most hosts: turned
 * on while the guard is on, and again whenever someone turns it off. Where
 * it cannot be (a container without the right), the meters count SYNs for
 * the rest of the agent's life, which a spoofed source can send; logged
 * once. Accounting is left on when the guard goes off: other tools may have
 * come to read it, and it costs a few bytes per connection.
 */
export class HandshakeCounting {
  /** undefined until first checked; false once accounting could not be had. */
  private on: boolean | undefined;

  constructor(
    private readonly runner: CommandRunner,
    private readonly log: Log,
  ) {}

  /** What the table should count: handshakes unless accounting failed. */
  get handshakes(): boolean {
    return this.on !== false;
  }

  /** Whether a tick should check the switch again (the table counts handshakes). */
  get watched(): boolean {
    return this.on === true;
  }

  /**
   * Makes sure accounting is on; false when the table must now count SYNs
   * (the caller makes it again). Run after the table is in place: its
   * conntrack expressions load conntrack, whose switch exists only then.
   */
  async keep(): Promise<boolean> {
    if (this.on === false) return true;
    const now = await this.runner.run('sysctl', ['-n', ACCOUNTING]);
    if (now.code === 0 && now.stdout.trim() === '1') {
      this.on = true;
      return true;
    }
    const set = await this.runner.run('sysctl', ['-q', '-w', `${ACCOUNTING}=1`]);
    if (set.code === 0) {
      if (this.on) this.log.warn({ sysctl: ACCOUNTING }, 'conntrack accounting was turned off on the host: turned on again (the guard counts completed handshakes)');
      else this.log.info({ sysctl: ACCOUNTING }, 'conntrack accounting on: the guard counts completed handshakes, which a spoofed source cannot make');
      this.on = true;
      return true;
    }
    this.on = false;
    this.log.warn({ sysctl: ACCOUNTING, err: (set.stderr || now.stderr).trim().slice(0, 200) }, 'conntrack accounting cannot be turned on: the guard counts SYNs instead, which a spoofed source can send');
    return false;
  }
}
