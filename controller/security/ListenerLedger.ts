import { isIP } from 'node:net';
import type { ListeningSocket, ListeningSockets } from '../../proto/gen/cordon/v1/agent.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import type { AuditEntry, AuditLog } from '../store/AuditLog.js';
import { agentActor } from './BanLedger.js';

/** A socket as the baseline knows it: protocol, address, port and owning process (a pid changes at every restart; the name does not). */
export const socketKey = (s: Pick<ListeningSocket, 'protocol' | 'address' | 'port' | 'process'>) => `${s.protocol} ${s.address}:${s.port} ${s.process || '?'}`;

/** What the controller knows of a host's listening sockets. */
export interface ListenerState {
  /** Whether the first list was taken as the baseline yet. */
  baselined: boolean;
  /** Keys in the baseline: the first list, and every socket the customer accepted. */
  baseline: Set<string>;
  /** Sockets reported as new and not accepted, oldest first. */
  pending: { key: string; socket: ListeningSocket; at: Date }[];
}

/** Audit entries read per host to know its sockets. */
const WINDOW = 2_000;
/** New sockets recorded from one list at most (a host that opens thousands at once is reported by its first 20). */
export const MAX_NEW_PER_LIST = 20;

/**
 * The hosts' listening sockets against their baselines, kept in the audit
 * log like the bans: `sockets.baseline` (the first list after managed
 * security began, taken as it is, actor `agent:<host>`), `sockets.new`
 * (a socket not in the baseline, actor `agent:<host>`) and `sockets.accept`
 * (the customer took it into the baseline on their page, actor
 * `customer:<id>`).
 */
export class ListenerLedger {
  constructor(private readonly audit: () => AuditLog) {}

  async state(hostId: string): Promise<ListenerState> {
    const entries = await this.audit().search({ subject: hostId, actionPrefix: 'sockets.', limit: WINDOW });
    return foldListeners(entries.reverse());
  }

  /**
   * Takes an agent's list of its host's public listeners: the first one
   * becomes the baseline; later, each socket in neither the baseline nor
   * the pending ones is recorded as new. Returns the new ones. `invalid`
   * naming the field for a malformed socket (nothing recorded).
   */
  async take(hostId: string, list: ListeningSockets, now: Date): Promise<ListeningSocket[]> {
    list.sockets.forEach(checkSocket);
    const st = await this.state(hostId);
    const keys = [...new Set(list.sockets.map(socketKey))];
    if (!st.baselined) {
      await this.audit().append({ at: now, actor: agentActor(hostId), action: 'sockets.baseline', subject: hostId, detail: { sockets: keys } });
      return [];
    }
    const known = new Set([...st.baseline, ...st.pending.map((p) => p.key)]);
    const fresh = [...new Map(list.sockets.filter((s) => !known.has(socketKey(s))).map((s) => [socketKey(s), s])).values()].slice(0, MAX_NEW_PER_LIST);
    if (fresh.length === 0) return [];
    await this.audit().appendMany(
      fresh.map((s) => ({ at: now, actor: agentActor(hostId), action: 'sockets.new', subject: hostId, detail: { key: socketKey(s), protocol: s.protocol, address: s.address, port: s.port, process: s.process, pid: s.pid } })),
    );
    return fresh;
  }

  /** The customer accepts a reported socket into the baseline. `not_found` when no such socket waits. */
  async accept(hostId: string, key: string, by: { actor: string; sourceAddress?: string | undefined; userAgent?: string | undefined }, now: Date): Promise<void> {
    const st = await this.state(hostId);
    if (!st.pending.some((p) => p.key === key)) throw new CordonError('not_found', `no new socket ${JSON.stringify(key.slice(0, 80))} waits on ${hostId}`, { field: 'socket' });
    await this.audit().append({ at: now, actor: by.actor, action: 'sockets.accept', subject: hostId, detail: { key, sourceAddress: by.sourceAddress ?? null, userAgent: by.userAgent?.slice(0, 200) ?? null } });
  }
}

function checkSocket(s: ListeningSocket, i: number): void {
  const invalid = (field: string, what: string) => new CordonError('invalid', `listeners: sockets[${i}].${field} ${what}`, { field: `sockets[${i}].${field}` });
  if (s.protocol !== 'tcp' && s.protocol !== 'udp') throw invalid('protocol', 'must be tcp or udp');
  if (s.address !== '*' && !isIP(s.address)) throw invalid('address', 'is not an address or *');
  if (!Number.isInteger(s.port) || s.port > 65_535) throw invalid('port', 'is not a port');
  if (s.process.length > 64 || /[\u0000-\u001f]/.test(s.process)) throw invalid('process', 'is longer than 64 characters or holds control characters');
}

/** Folds socket entries, oldest first. Pure. */
export function foldListeners(entries: readonly AuditEntry[]): ListenerState {
  const st: ListenerState = { baselined: false, baseline: new Set(), pending: [] };
  for (const e of entries) {
    const d = (e.detail ?? {}) as Record<string, unknown>;
    if (e.action === 'sockets.baseline' && Array.isArray(d.sockets)) {
      st.baselined = true;
      for (const k of d.sockets) st.baseline.add(String(k));
    } else if (e.action === 'sockets.new' && typeof d.key === 'string') {
      if (st.baseline.has(d.key) || st.pending.some((p) => p.key === d.key)) continue;
      st.pending.push({ key: d.key, at: e.at, socket: { protocol: String(d.protocol), address: String(d.address), port: Number(d.port), process: String(d.process ?? ''), pid: Number(d.pid) || 0 } });
    } else if (e.action === 'sockets.accept' && typeof d.key === 'string') {
      st.baseline.add(d.key);
      st.pending = st.pending.filter((p) => p.key !== d.key);
    }
  }
  return st;
}
