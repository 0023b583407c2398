import type { Incident as IncidentMsg, ListQueueRequest, ListQueueResponse, QueueEntry } from '../../proto/gen/cordon/v1/desk.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { describeAction } from '../dispatch/toProtoState.js';
import type { Incident } from '../incidents/model.js';
import { ipKey } from '../store/addressKey.js';
import { complaintFromRow, type ComplaintRow, type StoredComplaint } from '../store/ComplaintsRepo.js';
import { checkAction } from '../store/checkAction.js';
import { incidentFromRow, type IncidentRow } from '../store/incidentRow.js';
import type { Store } from '../store/Store.js';
import { toComplaintRecord } from './incidentDesk.js';
import { queueSql } from './deskQueueSql.js';
import { bmcAlertReason, compareQueue, enforcementReason, QUEUE_ORDER, queueReason, reportReason, switchReason, type QueueReason, type QueueWhy } from './queueReasons.js';

export interface DeskQueueDeps {
  store: Store;
  /** The desk's mapping of an incident (incidentDesk.toIncidentMsg with its policy). */
  toMsg: (i: Incident) => IncidentMsg;
  /** Whether the host's agent is connected now: the same answer the host page's dispatch status uses. */
  agentConnected: (hostId: string) => boolean;
  /**
   * A read-only connection for the queue's reads (ReadPool.next), so pages
   * under load read beside the writer instead of queueing behind it;
   * without it the queue reads on `store`.
   */
  reads?: (() => Store) | undefined;
}

/** The most entries one ListQueue returns. */
export const MAX_QUEUE = 1000;

/** How many wait for each reason, and in all: what a page showing the first N says it left out. */
export interface QueueCounts {
  total: number;
  byWhy: Record<QueueWhy, number>;
}

type Row = IncidentRow & { held_at: number | null; unseen_count: number; unseen_oldest: number | null; released_at?: number | null };
type Keyed = QueueEntry & { key: { why: QueueWhy; since: Date; id: string } };
interface HostItem {
  hostId: string;
  reason: QueueReason;
  /** The oldest incident holding a restriction on the host, if any. */
  incidentId: string | undefined;
}

type QueueSql = ReturnType<typeof queueSql>;
const INCIDENT_KINDS: Partial<Record<QueueWhy, { sql: keyof QueueSql; state?: string }>> = {
  appealed: { sql: 'answered', state: 'appealed' },
  release_requested: { sql: 'answered', state: 'release_requested' },
  releasing: { sql: 'releasing' },
  customer_resolved: { sql: 'answered', state: 'customer_resolved' },
  disputed: { sql: 'answered', state: 'disputed' },
  held: { sql: 'held' },
  unseen_messages: { sql: 'unseen' },
  notice_bounced: { sql: 'bounced' },
};
const REPORT_STATUS: Partial<Record<QueueWhy, string>> = { needs_info: 'needs_info', held_report: 'held' };

function incidentOf(r: Row): { incident: Incident; reason: QueueReason | undefined; unseen: number } {
  const incident = incidentFromRow(r);
  const unseen = r.unseen_count > 0 && r.unseen_oldest !== null ? { count: r.unseen_count, oldest: new Date(r.unseen_oldest) } : undefined;
  const releasedAt = r.released_at === null || r.released_at === undefined ? undefined : new Date(Number(r.released_at));
  return { incident, reason: queueReason(incident, { unseen, heldAt: r.held_at === null ? undefined : new Date(r.held_at), releasedAt }), unseen: r.unseen_count };
}


/**
 * Hosts whose enforcement or console waits for a person. Bounded by the
 * fleet, not by the incidents: one row per host whose desired generation
 * is not applied, one per host with a cut whose latest BMC check failed.
 */
async function readHosts(store: Store, agentConnected: (hostId: string) => boolean): Promise<HostItem[]> {
  const [dispatch, bmc] = await Promise.all([
    store.db.all<{ host_id: string; generation: number; issued_at: number; status: string | null; applied_generation: number | null; error: string | null; reported_at: number | null }>(queueSql(store.db.dialect).dispatch),
    store.db.all<{ host_id: string; at: number; error: string | null; down_since: number | null }>(queueSql(store.db.dialect).bmcDown),
  ]);
  const failing = (await store.switches.list()).filter((p) => p.failure !== undefined);
  const ids = [...new Set([...dispatch.map((d) => d.host_id), ...bmc.map((b) => b.host_id), ...failing.map((p) => p.hostId)])];
  if (ids.length === 0) return [];
  const inForce = new Map<string, { incidentId: string; kind: string; words: string }[]>();
  for (const e of await store.db.all<{ host_id: string; incident_id: string; kind: string; action_json: string }>(queueSql(store.db.dialect).enforcementsOf, [JSON.stringify(ids)])) {
    const words = describeAction(checkAction(JSON.parse(e.action_json), `enforcements[${e.incident_id}:${e.kind}]`, 'internal'));
    inForce.set(e.host_id, [...(inForce.get(e.host_id) ?? []), { incidentId: e.incident_id, kind: e.kind, words }]);
  }
  const items: HostItem[] = [];
  for (const d of dispatch) {
    const held = inForce.get(d.host_id) ?? [];
    const reason = enforcementReason({
      generation: d.generation,
      issuedAt: new Date(d.issued_at),
      status: d.status === null ? undefined : { status: d.status, appliedGeneration: d.applied_generation ?? undefined, error: d.error ?? undefined, reportedAt: new Date(d.reported_at!) },
      connected: agentConnected(d.host_id),
      inForce: held.map((e) => e.words),
    });
    if (reason) items.push({ hostId: d.host_id, reason, incidentId: held[0]?.incidentId });
  }
  for (const p of failing) {
    const reason = switchReason({ switchId: p.target.switchId, port: p.target.hostPort, portDown: p.portDown, failure: p.failure });
    if (reason) items.push({ hostId: p.hostId, reason, incidentId: inForce.get(p.hostId)?.[0]?.incidentId });
  }
  for (const b of bmc) {
    const cuts = (inForce.get(b.host_id) ?? []).filter((e) => e.kind === 'isolate' || e.kind === 'nic_down');
    const reason = bmcAlertReason({
      cuts: cuts.map((e) => e.words),
      latest: { reachable: false, at: new Date(b.at), error: b.error ?? undefined },
      downSince: b.down_since === null ? undefined : new Date(b.down_since),
    });
    if (reason) items.push({ hostId: b.host_id, reason, incidentId: cuts[0]?.incidentId });
  }
  return items.sort((a, b) => compareQueue({ ...a.reason, id: a.hostId }, { ...b.reason, id: b.hostId }));
}

/**
 * How many wait for each reason: one statement of COUNTs on the queue's
 * indexes, plus the fleet-bounded host reads. For a page that shows the
 * first N of ListQueue and says how many it left out.
 */
export async function countQueue(store: Store, agentConnected: (hostId: string) => boolean): Promise<QueueCounts> {
  const [row, hosts] = await Promise.all([store.db.get<Record<string, number>>(queueSql(store.db.dialect).counts), readHosts(store, agentConnected)]);
  const byWhy = Object.fromEntries(QUEUE_ORDER.map((why) => [why, row?.[why] ?? 0])) as Record<QueueWhy, number>;
  for (const h of hosts) byWhy[h.reason.why]++;
  return { total: Object.values(byWhy).reduce((a, b) => a + b, 0), byWhy };
}

/**
 * ListQueue: everything that waits for a person, in QUEUE_ORDER, then the
 * longest waiting first. Reads reason by reason, most urgent first, each
 * with `ORDER BY since LIMIT room` on its index, and stops once `limit`
 * entries are found: a page costs what it shows, however many wait.
 */
export function createDeskQueue(deps: DeskQueueDeps) {
  // Each call reads on one connection (a reader when there is a pool), so its statements see one file state.
  const on = () => queueOn(deps.reads?.() ?? deps.store, deps);
  return {
    listQueue: (req: ListQueueRequest): Promise<ListQueueResponse> => on().listQueue(req),
    /** How many wait for each reason (countQueue); not a DeskService method, for the desk's page. */
    countQueue: (): Promise<QueueCounts> => on().countQueue(),
  };
}

function queueOn(store: Store, deps: DeskQueueDeps) {
  const incidentsById = async (ids: string[]): Promise<Map<string, Incident>> => {
    if (ids.length === 0) return new Map();
    const rows = await store.db.all<Row>(queueSql(store.db.dialect).incidentsById, [JSON.stringify(ids)]);
    return new Map(rows.map((r) => [r.id, incidentFromRow(r)]));
  };
  /** For held reports: the open incident of the same host and category, which admitting the report would join. */
  const wouldJoin = async (reports: StoredComplaint[]): Promise<Map<string, Incident>> => {
    const keys = new Map<string, Buffer>();
    for (const c of reports) {
      try {
        keys.set(c.id, ipKey(c.ip));
      } catch {
        // An address that is not one matches no host: admitting it would reject it, as intake would.
      }
    }
    if (keys.size === 0) return new Map();
    const hosts = await store.hosts.matchKeys([...keys.values()]);
    const pairs = reports.flatMap((c) => {
      const m = keys.has(c.id) ? hosts.get(keys.get(c.id)!.toString('hex')) : undefined;
      return m ? [{ id: c.id, pair: [m.hostId, c.category] }] : [];
    });
    if (pairs.length === 0) return new Map();
    const open = await store.db.all<IncidentRow>(queueSql(store.db.dialect).openByHostCategory, [JSON.stringify(pairs.map((p) => p.pair))]);
    const byPair = new Map(open.map((r) => [`${r.host_id}\u0000${r.category}`, incidentFromRow(r)]));
    return new Map(pairs.flatMap((p) => (byPair.has(p.pair.join('\u0000')) ? [[p.id, byPair.get(p.pair.join('\u0000'))!] as const] : [])));
  };

  const readIncidents = async (why: QueueWhy, room: number, seen: Set<string>): Promise<Keyed[]> => {
    const kind = INCIDENT_KINDS[why]!;
    const rows = await store.db.all<Row>(queueSql(store.db.dialect)[kind.sql], kind.state ? [kind.state, room] : [room]);
    const out: Keyed[] = [];
    for (const r of rows) {
      const { incident, reason, unseen } = incidentOf(r);
      // The rule (queueReason) has the last word: a row that changed between two reads is shown once, under its first reason.
      if (!reason || reason.why !== why || seen.has(incident.id)) continue;
      seen.add(incident.id);
      out.push({ incident: deps.toMsg(incident), ...reason, unseen, hostId: '', complaint: undefined, key: { ...reason, id: incident.id } });
    }
    return out;
  };

  const readReports = async (why: QueueWhy, room: number): Promise<Keyed[]> => {
    const rows = (await store.db.all<ComplaintRow>(queueSql(store.db.dialect).reports, [REPORT_STATUS[why]!, room])).map(complaintFromRow);
    const joins = why === 'held_report' ? await wouldJoin(rows) : new Map<string, Incident>();
    return rows.flatMap((c) => {
      const joined = joins.get(c.id);
      const reason = reportReason({ status: c.status, receivedAt: c.receivedAt, reason: c.reason, wouldJoin: joined?.id });
      return reason ? [{ incident: joined && deps.toMsg(joined), ...reason, unseen: 0, hostId: '', complaint: toComplaintRecord(c), key: { ...reason, id: c.id } }] : [];
    });
  };

  return {
    async listQueue(req: ListQueueRequest): Promise<ListQueueResponse> {
      const limit = req.limit || 200;
      if (limit > MAX_QUEUE) throw new CordonError('invalid', `at most ${MAX_QUEUE}, got ${limit}`, { field: 'limit' });
      const entries: Keyed[] = [];
      const seen = new Set<string>();
      let hosts: Promise<HostItem[]> | undefined;
      for (const why of QUEUE_ORDER) {
        const room = limit - entries.length;
        if (room <= 0) break;
        if (INCIDENT_KINDS[why]) entries.push(...(await readIncidents(why, room, seen)));
        else if (REPORT_STATUS[why]) entries.push(...(await readReports(why, room)));
        else {
          hosts ??= readHosts(store, deps.agentConnected);
          const items = (await hosts).filter((h) => h.reason.why === why).slice(0, room);
          const incidents = await incidentsById([...new Set(items.flatMap((h) => (h.incidentId ? [h.incidentId] : [])))]);
          for (const h of items) {
            const i = h.incidentId ? incidents.get(h.incidentId) : undefined;
            entries.push({ incident: i && deps.toMsg(i), ...h.reason, unseen: 0, hostId: h.hostId, complaint: undefined, key: { ...h.reason, id: h.hostId } });
          }
        }
      }
      entries.sort((a, b) => compareQueue(a.key, b.key));
      return { entries: entries.slice(0, limit).map(({ key: _key, ...e }) => e) };
    },

    /** How many wait for each reason (countQueue); not a DeskService method, for the desk's page. */
    countQueue(): Promise<QueueCounts> {
      return countQueue(store, deps.agentConnected);
    },
  };
}
