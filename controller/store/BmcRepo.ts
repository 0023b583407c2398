import { CordonError } from '../../proto/runtime/CordonError.js';
import type { BmcFact } from '../incidents/model.js';
import type { SqlDatabase } from './SqlDatabase.js';

/** How to reach one host's BMC. The password stays in a file; only its path is stored. */
export interface HostBmc {
  hostId: string;
  protocol: 'ipmi';
  address: string;
  port: number;
  user: string;
  passwordFile: string;
  /** Serial-over-LAN must be available (the inventory says the customer uses it). */
  sol: boolean;
  cipherSuite: number | undefined;
}

export interface StoredBmcCheck extends BmcFact {
  sol: string;
  durationMs: number;
}

interface BmcRow {
  host_id: string;
  protocol: string;
  address: string;
  port: number;
  user: string;
  password_file: string;
  sol: number;
  cipher_suite: number | null;
}

/** Each host's BMC and the history of its checks. */
export class BmcRepo {
  constructor(private readonly db: SqlDatabase) {}

  /**
   * Sets (or replaces) the host's BMC. A password file belongs to one host
   * only: a file already bound to another host is refused with `conflict`
   * naming `bmc.passwordFile` (paths compare as stored; the desk stores them
   * with symlinks resolved). Checked and written in one transaction.
   */
  async set(b: HostBmc): Promise<void> {
    if (!b.address) throw new CordonError('invalid', 'is required', { field: 'bmc.address' });
    if (!b.user) throw new CordonError('invalid', 'is required', { field: 'bmc.user' });
    if (!b.passwordFile) throw new CordonError('invalid', 'is required (a file holding the password)', { field: 'bmc.passwordFile' });
    if (!Number.isInteger(b.port) || b.port < 1 || b.port > 65535) throw new CordonError('invalid', 'must be a UDP port', { field: 'bmc.port' });
    await this.db.transaction(async () => {
      const other = await this.boundTo(b.passwordFile);
      if (other !== undefined && other !== b.hostId) {
        throw new CordonError('conflict', `${b.passwordFile} is bound to host ${other}; a password file belongs to one host only`, { field: 'bmc.passwordFile' });
      }
      await this.write(b);
    });
  }

  /** The host whose BMC uses this password file, if any. */
  async boundTo(passwordFile: string): Promise<string | undefined> {
    const r = await this.db.get<{ host_id: string }>('SELECT host_id FROM host_bmcs WHERE password_file = ? ORDER BY host_id LIMIT 1', [passwordFile]);
    return r?.host_id;
  }

  private async write(b: HostBmc): Promise<void> {
    await this.db.run(
      `INSERT INTO host_bmcs (host_id, protocol, address, port, "user", password_file, sol, cipher_suite) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (host_id) DO UPDATE SET protocol = excluded.protocol, address = excluded.address, port = excluded.port,
         "user" = excluded."user", password_file = excluded.password_file, sol = excluded.sol, cipher_suite = excluded.cipher_suite`,
      [b.hostId, b.protocol, b.address, b.port, b.user, b.passwordFile, b.sol ? 1 : 0, b.cipherSuite ?? null],
    );
  }

  async get(hostId: string): Promise<HostBmc | undefined> {
    const r = await this.db.get<BmcRow>('SELECT * FROM host_bmcs WHERE host_id = ?', [hostId]);
    return r && fromRow(r);
  }

  /** The BMCs of these hosts (those that have one), in one query per 1,000 hosts. */
  async getMany(hostIds: readonly string[]): Promise<HostBmc[]> {
    const out: HostBmc[] = [];
    for (let i = 0; i < hostIds.length; i += 1000) {
      const slice = hostIds.slice(i, i + 1000);
      const size = Math.max(16, 2 ** Math.ceil(Math.log2(slice.length)));
      const rows = await this.db.all<BmcRow>(`SELECT * FROM host_bmcs WHERE host_id IN (${Array(size).fill('?').join(', ')})`, [
        ...slice,
        ...Array<string>(size - slice.length).fill(slice[0]!),
      ]);
      out.push(...rows.map(fromRow));
    }
    return out;
  }

  async recordCheck(hostId: string, c: StoredBmcCheck): Promise<void> {
    await this.db.run('INSERT INTO bmc_checks (host_id, at, reachable, sol, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?)', [
      hostId,
      c.checkedAt.getTime(),
      c.reachable ? 1 : 0,
      c.sol,
      c.error ?? null,
      Math.round(c.durationMs),
    ]);
  }

  /** The latest check of each of these hosts that has one, in one query per 1,000 hosts. */
  async latestForHosts(hostIds: readonly string[]): Promise<Map<string, StoredBmcCheck>> {
    const out = new Map<string, StoredBmcCheck>();
    for (let i = 0; i < hostIds.length; i += 1000) {
      const slice = hostIds.slice(i, i + 1000);
      const size = Math.max(16, 2 ** Math.ceil(Math.log2(slice.length)));
      const rows = await this.db.all<{ host_id: string; at: number; reachable: number; sol: string; error: string | null; duration_ms: number }>(
        `SELECT host_id, at, reachable, sol, error, duration_ms FROM (
           SELECT *, ROW_NUMBER() OVER (PARTITION BY host_id ORDER BY at DESC, id DESC) AS n FROM bmc_checks
           WHERE host_id IN (${Array(size).fill('?').join(', ')})) AS latest WHERE n = 1`,
        [...slice, ...Array<string>(size - slice.length).fill(slice[0]!)],
      );
      for (const r of rows) {
        out.set(r.host_id, { checkedAt: new Date(r.at), reachable: r.reachable === 1, sol: r.sol, error: r.error ?? undefined, durationMs: r.duration_ms });
      }
    }
    return out;
  }

  /**
   * The host's checks from `since` on (and before `until`, when given),
   * newest first, at most `limit` (1 to 200): by the (host_id, at) index.
   */
  async checksOfHost(hostId: string, range: { since: Date; until?: Date | undefined }, limit: number): Promise<StoredBmcCheck[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new CordonError('invalid', 'a whole number from 1 to 200', { field: 'limit' });
    const rows = await this.db.all<{ at: number; reachable: number; sol: string; error: string | null; duration_ms: number }>(
      'SELECT at, reachable, sol, error, duration_ms FROM bmc_checks WHERE host_id = ? AND at >= ? AND at < ? ORDER BY at DESC, id DESC LIMIT ?',
      [hostId, range.since.getTime(), range.until?.getTime() ?? Number.MAX_SAFE_INTEGER, limit],
    );
    return rows.map((r) => ({ checkedAt: new Date(r.at), reachable: r.reachable === 1, sol: r.sol, error: r.error ?? undefined, durationMs: r.duration_ms }));
  }

  async latest(hostId: string): Promise<StoredBmcCheck | undefined> {
    const r = await this.db.get<{ at: number; reachable: number; sol: string; error: string | null; duration_ms: number }>(
      'SELECT at, reachable, sol, error, duration_ms FROM bmc_checks WHERE host_id = ? ORDER BY at DESC, id DESC LIMIT 1',
      [hostId],
    );
    return r ? { checkedAt: new Date(r.at), reachable: r.reachable === 1, sol: r.sol, error: r.error ?? undefined, durationMs: r.duration_ms } : undefined;
  }
}

function fromRow(r: BmcRow): HostBmc {
  return {
    hostId: r.host_id,
    protocol: 'ipmi',
    address: r.address,
    port: r.port,
    user: r.user,
    passwordFile: r.password_file,
    sol: r.sol === 1,
    cipherSuite: r.cipher_suite ?? undefined,
  };
}
