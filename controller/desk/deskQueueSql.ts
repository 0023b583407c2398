import { INCIDENT_COLUMNS } from '../store/incidentRow.js';
import type { SqlDatabase } from '../store/SqlDatabase.js';
import { jsonTextList, jsonTextPairs } from '../store/sqlDialect.js';

/*
 * The queue's statements, one per reason (desk/queueReasons.ts), each the
 * SQL form of its rule and each `ORDER BY since, id LIMIT ?` on the index
 * migration 10 made for it. The partial indexes' WHEREs are repeated here
 * term for term (OPEN, ANSWERED): SQLite uses a partial index only when it
 * finds each of its terms in the query. A reason's query also excludes what
 * an earlier reason takes, so an incident is read once, under its first.
 */

const OPEN = "state NOT IN ('closed', 'dismissed', 'released')";
/** Open for complaints (the one-open index, migration 14): a release waiting for its confirmation takes none. */
const OPEN_FOR_COMPLAINTS = "state NOT IN ('closed', 'dismissed', 'released', 'releasing')";
const ANSWERED = "state IN ('appealed', 'release_requested', 'customer_resolved', 'disputed')";
const NOT_ANSWERED = "state NOT IN ('appealed', 'release_requested', 'customer_resolved', 'disputed')";
const UNSEEN = 'customer_messages u WHERE u.incident_id = incidents.id AND u.seen_at IS NULL';
/** An incident row with what its queue reason needs: when its hold was set, its unseen messages. */
const COLUMNS = INCIDENT_COLUMNS.split(', ')
  .map((c) => `incidents.${c} AS ${c}`)
  .join(', ');
const INCIDENT = `${COLUMNS}, incidents.held_at AS held_at, (SELECT COUNT(*) FROM ${UNSEEN}) AS unseen_count, (SELECT u.at FROM ${UNSEEN} ORDER BY u.at LIMIT 1) AS unseen_oldest`;
const REPORT =
  'id, received_at, event_time, event_time_source, ip, category, reporter, reporter_kind, evidence, status, reason, excerpt, trusted, reporter_id, auth_json, ' +
  "message_id, original_message_id, fingerprint, duplicate_of, '' AS raw, NULL AS incident_id, NULL AS reply_to"; // the report itself is GetComplaintRaw's: the queue never carries it
/** The message `m` is its incident's oldest unseen one. */
const OLDEST_UNSEEN = `NOT EXISTS (SELECT 1 FROM customer_messages o WHERE o.incident_id = m.incident_id AND o.seen_at IS NULL AND (o.at < m.at OR (o.at = m.at AND o.id < m.id)))`;
const HELD = `hold IS NOT NULL AND ${OPEN} AND ${NOT_ANSWERED}`;
const BOUNCED = `notice_undelivered_at IS NOT NULL AND ${OPEN} AND hold IS NULL AND ${NOT_ANSWERED} AND NOT EXISTS (SELECT 1 FROM ${UNSEEN})`;
/** Incidents with unseen messages that no earlier reason took (`incidents` joined). */
const UNSEEN_ONLY = `incidents.${NOT_ANSWERED} AND NOT (incidents.hold IS NOT NULL AND incidents.${OPEN})`;

/** The queue's statements in `dialect`'s SQL (they differ only where a JSON list is bound). */
export function queueSql(dialect: SqlDatabase['dialect']) {
  return (BY_DIALECT[dialect] ??= statements(dialect));
}

const BY_DIALECT: Partial<Record<SqlDatabase['dialect'], ReturnType<typeof statements>>> = {};

const statements = (dialect: SqlDatabase['dialect']) => ({
  /** Appealed, release requested, customer resolved, disputed (the state is the parameter): since the customer's answer. */
  answered: `SELECT ${INCIDENT} FROM incidents WHERE ${ANSWERED} AND state = ? ORDER BY COALESCE(answered_at, opened_at), id LIMIT ?`,
  /** Released, the lift not confirmed: since the operator's release. Few at a time (the state index). */
  releasing: `SELECT ${INCIDENT}, (SELECT MAX(e.at) FROM incident_events e WHERE e.incident_id = incidents.id AND e.type = 'operator_release') AS released_at
    FROM incidents WHERE state = 'releasing' ORDER BY opened_at, id LIMIT ?`,
  /** Escalations held back, since the hold was set. */
  held: `SELECT ${INCIDENT} FROM incidents WHERE ${HELD} ORDER BY COALESCE(held_at, escalated_at, opened_at), id LIMIT ?`,
  /** Unseen customer messages: walks unseen messages oldest first and keeps each incident's oldest. */
  unseen: `SELECT ${INCIDENT} FROM customer_messages m JOIN incidents ON incidents.id = m.incident_id
    WHERE m.seen_at IS NULL AND ${OLDEST_UNSEEN} AND ${UNSEEN_ONLY}
    ORDER BY m.at, m.incident_id LIMIT ?`,
  /** A notice that bounced on an open incident nothing above took. */
  bounced: `SELECT ${INCIDENT} FROM incidents WHERE ${BOUNCED} ORDER BY notice_undelivered_at, id LIMIT ?`,
  /** Reports no incident took, by status (needs_info, held), oldest first; never the raw report. */
  reports: `SELECT ${REPORT} FROM complaints WHERE status = ? ORDER BY received_at, id LIMIT ?`,
  /** Hosts whose desired generation is not applied (the agent's connection is asked in code). One row per such host. */
  dispatch: `SELECT d.host_id, d.generation, d.issued_at, s.status, s.applied_generation, s.error, s.reported_at
    FROM host_desired d LEFT JOIN host_status s ON s.host_id = d.host_id
    WHERE d.generation > 0 AND (s.host_id IS NULL OR s.status <> 'applied' OR s.applied_generation IS DISTINCT FROM d.generation)
    ORDER BY d.issued_at, d.host_id`,
  /** Hosts with a cut in force whose latest BMC check failed, with the first failure since the BMC last answered. */
  bmcDown: `SELECT c.host_id, l.at, l.error,
      (SELECT MIN(b.at) FROM bmc_checks b WHERE b.host_id = c.host_id
        AND b.at > COALESCE((SELECT MAX(r.at) FROM bmc_checks r WHERE r.host_id = c.host_id AND r.reachable = 1), -1)) AS down_since
    FROM (SELECT DISTINCT host_id FROM enforcements WHERE kind IN ('isolate', 'nic_down')) c
    JOIN bmc_checks l ON l.id = (SELECT x.id FROM bmc_checks x WHERE x.host_id = c.host_id ORDER BY x.at DESC, x.id DESC LIMIT 1)
    WHERE l.reachable = 0`,
  /** What is in force on some hosts (a JSON list of host ids), oldest first per host. */
  enforcementsOf: `SELECT host_id, incident_id, kind, action_json FROM enforcements
    WHERE host_id IN (${jsonTextList(dialect)}) ORDER BY host_id, since, incident_id, kind`,
  /** Incidents by id (a JSON list). */
  incidentsById: `SELECT ${INCIDENT} FROM incidents WHERE id IN (${jsonTextList(dialect)})`,
  /** The open incident of each [host, category] pair (a JSON list): where an admitted report would go. */
  openByHostCategory: `SELECT ${INCIDENT_COLUMNS} FROM incidents
    WHERE ${OPEN_FOR_COMPLAINTS} AND (host_id, category) IN (${jsonTextPairs(dialect)})`,
  /** How many wait for each incident and report reason, in one statement; hosts are counted from their own reads. */
  counts: `SELECT
    (SELECT COUNT(*) FROM incidents WHERE state = 'appealed') AS appealed,
    (SELECT COUNT(*) FROM incidents WHERE state = 'release_requested') AS release_requested,
    (SELECT COUNT(*) FROM incidents WHERE state = 'releasing') AS releasing,
    (SELECT COUNT(*) FROM incidents WHERE state = 'customer_resolved') AS customer_resolved,
    (SELECT COUNT(*) FROM incidents WHERE state = 'disputed') AS disputed,
    (SELECT COUNT(*) FROM incidents WHERE ${HELD}) AS held,
    (SELECT COUNT(DISTINCT m.incident_id) FROM customer_messages m JOIN incidents ON incidents.id = m.incident_id WHERE m.seen_at IS NULL AND ${UNSEEN_ONLY}) AS unseen_messages,
    (SELECT COUNT(*) FROM incidents WHERE ${BOUNCED}) AS notice_bounced,
    (SELECT COUNT(*) FROM complaints WHERE status = 'needs_info') AS needs_info,
    (SELECT COUNT(*) FROM complaints WHERE status = 'held') AS held_report`,
});

/** SQLite's statements, for tests that read the plans. */
export const QUEUE_SQL = queueSql('sqlite');
