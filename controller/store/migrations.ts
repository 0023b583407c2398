/**
 * The store's schema, as numbered migrations applied in order at start, each
 * in its own transaction (migrate.ts). They live here as strings, not .sql
 * files, so `tsc` carries them into dist/ with no copy step.
 *
 * A migration that has shipped is never edited: migrate() keeps each one's
 * checksum and refuses to start when the text changed. Change the schema by
 * appending a migration. PRAGMA foreign_keys cannot change inside a
 * transaction, so a table rebuild must keep its references valid as it goes.
 *
 * Conventions: STRICT tables (a Date or a boolean of the wrong type is
 * refused instead of stored); times are INTEGER epoch milliseconds (`*_at`);
 * JSON columns end in `_json` and hold canonical JSON. Domain enums from
 * incidents/model.ts (state, category, hold, action kind) are not CHECKed
 * here, since SQLite cannot alter a CHECK without rebuilding the table; the
 * repositories validate them on the way in and on the way out.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const INIT = `
CREATE TABLE customers (
  id    TEXT PRIMARY KEY,
  name  TEXT NOT NULL,
  email TEXT NOT NULL
) STRICT;

-- customer_id is not a foreign key: the inventory and the customers' contact
-- details come from different sources and need not arrive in order.
CREATE TABLE hosts (
  id                 TEXT PRIMARY KEY,
  customer_id        TEXT NOT NULL,
  management_address TEXT NOT NULL
) STRICT;
CREATE INDEX hosts_by_customer ON hosts (customer_id, id);

-- One row per public prefix. first_addr/last_addr are 16-byte big-endian
-- addresses, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d), so BLOB comparison
-- (memcmp) orders them numerically and one range query serves both families.
-- prefix_len is the length in that 128-bit space (an IPv4 /24 is 120).
CREATE TABLE host_prefixes (
  prefix     TEXT PRIMARY KEY,
  host_id    TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
  position   INTEGER NOT NULL,
  prefix_len INTEGER NOT NULL CHECK (prefix_len BETWEEN 0 AND 128),
  first_addr BLOB NOT NULL CHECK (length(first_addr) = 16),
  last_addr  BLOB NOT NULL CHECK (length(last_addr) = 16),
  CHECK (first_addr <= last_addr)
) STRICT;
CREATE INDEX host_prefixes_by_range ON host_prefixes (first_addr, last_addr, prefix_len, host_id);
CREATE INDEX host_prefixes_by_host ON host_prefixes (host_id, position);

CREATE TABLE incidents (
  id              TEXT PRIMARY KEY,
  host_id         TEXT NOT NULL REFERENCES hosts (id),
  customer_id     TEXT NOT NULL,
  category        TEXT NOT NULL,
  state           TEXT NOT NULL,
  trusted         INTEGER NOT NULL CHECK (trusted IN (0, 1)),
  opened_at       INTEGER NOT NULL,
  notified_at     INTEGER,
  ack_due_at      INTEGER,
  resolve_due_at  INTEGER,
  acknowledged_at INTEGER,
  answered_at     INTEGER,
  escalated_at    INTEGER,
  step            INTEGER NOT NULL CHECK (step >= -1),
  actions_json    TEXT NOT NULL,
  hold            TEXT,
  closed_at       INTEGER,
  complaint_count INTEGER NOT NULL CHECK (complaint_count >= 0),
  next_due_at     INTEGER
) STRICT;
-- Complaints about one host and category merge into its one open incident.
CREATE UNIQUE INDEX incidents_one_open ON incidents (host_id, category)
  WHERE state NOT IN ('closed', 'dismissed', 'released');
-- The target of enforcements' (incident_id, host_id) foreign key.
CREATE UNIQUE INDEX incidents_id_host ON incidents (id, host_id);
-- The scheduler's one timer asks for the earliest.
CREATE INDEX incidents_by_next_due ON incidents (next_due_at, id) WHERE next_due_at IS NOT NULL;
CREATE INDEX incidents_by_customer ON incidents (customer_id, opened_at);
CREATE INDEX incidents_by_host ON incidents (host_id, opened_at);
CREATE INDEX incidents_by_state ON incidents (state, opened_at);
CREATE INDEX incidents_by_opened ON incidents (opened_at);

CREATE TABLE complaints (
  id            TEXT PRIMARY KEY,
  received_at   INTEGER NOT NULL,
  event_time    INTEGER,
  ip            TEXT NOT NULL,
  category      TEXT NOT NULL,
  reporter      TEXT NOT NULL,
  reporter_kind TEXT NOT NULL,
  raw           TEXT NOT NULL,
  evidence      TEXT NOT NULL,
  incident_id   TEXT REFERENCES incidents (id),
  status        TEXT NOT NULL CHECK (status IN ('linked', 'rejected', 'needs_info')),
  reason        TEXT,
  CHECK ((status = 'linked') = (incident_id IS NOT NULL))
) STRICT;
CREATE INDEX complaints_by_incident ON complaints (incident_id, received_at) WHERE incident_id IS NOT NULL;
CREATE INDEX complaints_by_status ON complaints (status, received_at);
-- The report as received travels unmodified to the customer.
CREATE TRIGGER complaints_raw_immutable BEFORE UPDATE OF raw ON complaints
BEGIN SELECT RAISE(ABORT, 'complaints.raw never changes'); END;

CREATE TABLE incident_events (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  incident_id TEXT NOT NULL REFERENCES incidents (id),
  at          INTEGER NOT NULL,
  type        TEXT NOT NULL,
  from_state  TEXT,
  to_state    TEXT,
  actor       TEXT NOT NULL,
  detail_json TEXT NOT NULL
) STRICT;
CREATE INDEX incident_events_by_incident ON incident_events (incident_id, id);
CREATE TRIGGER incident_events_no_update BEFORE UPDATE ON incident_events
BEGIN SELECT RAISE(ABORT, 'incident_events is append-only'); END;
CREATE TRIGGER incident_events_no_delete BEFORE DELETE ON incident_events
BEGIN SELECT RAISE(ABORT, 'incident_events is append-only'); END;

-- What each incident holds on its own host, one row per action kind. The
-- composite foreign key makes "an incident acts only on its own host" a
-- property of the data, not just of the code.
CREATE TABLE enforcements (
  incident_id TEXT NOT NULL,
  host_id     TEXT NOT NULL,
  kind        TEXT NOT NULL,
  action_json TEXT NOT NULL,
  reason      TEXT NOT NULL,
  since       INTEGER NOT NULL,
  PRIMARY KEY (incident_id, kind),
  FOREIGN KEY (incident_id, host_id) REFERENCES incidents (id, host_id)
) STRICT;
CREATE INDEX enforcements_by_host ON enforcements (host_id, incident_id, kind);

-- Each action kind an incident newly took on, for the fleet-wide hourly cap.
CREATE TABLE enforcement_starts (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  at          INTEGER NOT NULL,
  host_id     TEXT NOT NULL REFERENCES hosts (id),
  incident_id TEXT NOT NULL REFERENCES incidents (id),
  kind        TEXT NOT NULL,
  automatic   INTEGER NOT NULL CHECK (automatic IN (0, 1))
) STRICT;
CREATE INDEX enforcement_starts_automatic ON enforcement_starts (at) WHERE automatic = 1;

CREATE TABLE host_desired (
  host_id    TEXT PRIMARY KEY REFERENCES hosts (id),
  generation INTEGER NOT NULL CHECK (generation >= 0),
  issued_at  INTEGER NOT NULL
) STRICT;
-- Agents refuse an older generation: going back would strand them.
CREATE TRIGGER host_desired_generation_grows BEFORE UPDATE OF generation ON host_desired
WHEN NEW.generation <= OLD.generation
BEGIN SELECT RAISE(ABORT, 'host_desired.generation only grows'); END;

CREATE TABLE host_status (
  host_id            TEXT PRIMARY KEY REFERENCES hosts (id),
  status             TEXT NOT NULL CHECK (status IN ('pending', 'applied', 'failed', 'unreachable')),
  applied_generation INTEGER CHECK (applied_generation >= 0),
  error              TEXT,
  reported_at        INTEGER NOT NULL
) STRICT;

CREATE TABLE approvals (
  id           TEXT PRIMARY KEY,
  requested_by TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  action_json  TEXT NOT NULL,
  reason       TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
  decided_by   TEXT,
  decided_at   INTEGER,
  CHECK ((status = 'pending') = (decided_by IS NULL)),
  -- Four eyes: nobody approves their own request.
  CHECK (status <> 'approved' OR decided_by <> requested_by)
) STRICT;
CREATE INDEX approvals_pending ON approvals (requested_at) WHERE status = 'pending';
CREATE TABLE approval_targets (
  approval_id TEXT NOT NULL REFERENCES approvals (id),
  host_id     TEXT NOT NULL REFERENCES hosts (id),
  PRIMARY KEY (approval_id, host_id)
) STRICT;

-- Work a commit causes (mail, pushes, BMC checks), delivered after it.
-- due_at: when a pending row may be sent, or when an in-flight row's lease
-- ends (then it is due again); one index serves both.
CREATE TABLE outbox (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  kind         TEXT NOT NULL,
  incident_id  TEXT REFERENCES incidents (id),
  payload_json TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('pending', 'in_flight', 'done', 'dead')),
  due_at       INTEGER NOT NULL,
  lease        TEXT,
  attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_error   TEXT,
  CHECK ((status = 'in_flight') = (lease IS NOT NULL))
) STRICT;
CREATE INDEX outbox_due ON outbox (due_at, id) WHERE status IN ('pending', 'in_flight');

-- hash = sha256(prev_hash || canonical JSON of id, at, actor, action,
-- subject, detail); the first row's prev_hash is 64 zeros (AuditLog.ts).
CREATE TABLE audit_log (
  id          INTEGER PRIMARY KEY,
  at          INTEGER NOT NULL,
  actor       TEXT NOT NULL,
  action      TEXT NOT NULL,
  subject     TEXT NOT NULL,
  detail_json TEXT NOT NULL,
  prev_hash   TEXT NOT NULL CHECK (length(prev_hash) = 64),
  hash        TEXT NOT NULL UNIQUE CHECK (length(hash) = 64)
) STRICT;
CREATE INDEX audit_log_by_subject ON audit_log (subject, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
`;

/**
 * The BMC (out-of-band console) of each host, and every check of it. The
 * password itself is never stored: only the path of a file holding it, which
 * ipmitool reads with -f.
 */
const BMC = `
CREATE TABLE host_bmcs (
  host_id       TEXT PRIMARY KEY REFERENCES hosts (id) ON DELETE CASCADE,
  protocol      TEXT NOT NULL DEFAULT 'ipmi',
  address       TEXT NOT NULL,
  port          INTEGER NOT NULL DEFAULT 623,
  user          TEXT NOT NULL,
  password_file TEXT NOT NULL,
  sol           INTEGER NOT NULL DEFAULT 0,
  cipher_suite  INTEGER
) STRICT;
CREATE TABLE bmc_checks (
  id          INTEGER PRIMARY KEY,
  host_id     TEXT NOT NULL,
  at          INTEGER NOT NULL,
  reachable   INTEGER NOT NULL,
  sol         TEXT NOT NULL,
  error       TEXT,
  duration_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX bmc_checks_by_host ON bmc_checks (host_id, at);
-- When the host's console last answered a check around this incident's cut.
ALTER TABLE incidents ADD COLUMN bmc_verified_at INTEGER;
`;

/**
 * Each host's access-switch port (the network-side fallback) and whether
 * Cordon holds it down. The SSH key stays in a file; only its path is stored.
 */
const SWITCHES = `
CREATE TABLE host_switches (
  host_id     TEXT PRIMARY KEY REFERENCES hosts (id) ON DELETE CASCADE,
  target_json TEXT NOT NULL,
  port_down   INTEGER NOT NULL DEFAULT 0,
  reason      TEXT,
  changed_at  INTEGER
) STRICT;
`;

/**
 * Large texts stored once. A Shadowserver CSV of 100,000 rows is about 8 MB
 * and becomes tens of thousands of complaints, each of which keeps the report
 * as received, and each new incident's notice carries it too: stored inline
 * that was gigabytes per report. A text of BLOB_MIN_CHARS (Blobs.ts) or more
 * now lives once in `blobs`, keyed by its SHA-256; a complaint names it in
 * raw_sha256 (with raw left empty), an outbox row lists in blob_refs_json
 * where in its payload each one goes. Blobs are append-only like the audit
 * log: the report travels unmodified.
 */
const BLOBS = `
CREATE TABLE blobs (
  sha256 TEXT PRIMARY KEY CHECK (length(sha256) = 64),
  text   TEXT NOT NULL
) STRICT;
CREATE TRIGGER blobs_no_update BEFORE UPDATE ON blobs
BEGIN SELECT RAISE(ABORT, 'blobs are append-only'); END;
CREATE TRIGGER blobs_no_delete BEFORE DELETE ON blobs
BEGIN SELECT RAISE(ABORT, 'blobs are append-only'); END;

ALTER TABLE complaints ADD COLUMN raw_sha256 TEXT REFERENCES blobs (sha256);
CREATE TRIGGER complaints_raw_sha256_immutable BEFORE UPDATE OF raw_sha256 ON complaints
BEGIN SELECT RAISE(ABORT, 'complaints.raw never changes'); END;

-- A JSON list of [path, sha256] pairs: the payload's string at path (a list of keys and indexes) is that blob's text.
ALTER TABLE outbox ADD COLUMN blob_refs_json TEXT;
`;

/**
 * The part of a many-network report (a Shadowserver feed, a list of
 * addresses) about one complaint: what its customer is sent, so no customer
 * receives another's addresses. The whole report stays in `raw`.
 */
const EXCERPTS = `
ALTER TABLE complaints ADD COLUMN excerpt TEXT;
CREATE TRIGGER complaints_excerpt_immutable BEFORE UPDATE OF excerpt ON complaints
BEGIN SELECT RAISE(ABORT, 'complaints.excerpt never changes'); END;
`;

/**
 * Due process (issue 12). Who Cordon believes: a registry of reporters and,
 * on each complaint, how it was authenticated and whether that made it
 * trusted. Replays: a complaint keeps its report's Message-ID, the quoted
 * original's, and a fingerprint, and a re-sent one is a `duplicate` linked
 * to the first; one about an event older than the host's last closed
 * incident of that category is `held` for an operator. The complaints
 * table is rebuilt for the new statuses (SQLite cannot alter a CHECK);
 * nothing references it, so the rebuild keeps every row and trigger.
 *
 * Recidivism counts only established incidents (`established`: enforced
 * after an unanswered deadline on a trusted complaint, or acknowledged or
 * fixed by the customer), never operator-opened ones (`opened_by`); a
 * termination review is a row an operator confirms or declines. Operator
 * cuts wait for the BMC like automatic ones (`pending_action_json`), and an
 * incident names the approval that allowed its action. Approvals expire and
 * may be bound to one incident.
 */
const DUE_PROCESS = `
CREATE TABLE reporters (
  id            TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  kind          TEXT NOT NULL,
  domains_json  TEXT NOT NULL,
  arc_forwarder INTEGER NOT NULL DEFAULT 0 CHECK (arc_forwarder IN (0, 1)),
  feed          TEXT,
  source        TEXT NOT NULL CHECK (source IN ('config', 'desk')),
  added_by      TEXT NOT NULL,
  added_at      INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX reporters_by_feed ON reporters (feed) WHERE feed IS NOT NULL;

CREATE TABLE complaints_v6 (
  id                  TEXT PRIMARY KEY,
  received_at         INTEGER NOT NULL,
  event_time          INTEGER,
  ip                  TEXT NOT NULL,
  category            TEXT NOT NULL,
  reporter            TEXT NOT NULL,
  reporter_kind       TEXT NOT NULL,
  raw                 TEXT NOT NULL,
  evidence            TEXT NOT NULL,
  incident_id         TEXT REFERENCES incidents (id),
  status              TEXT NOT NULL CHECK (status IN ('linked', 'rejected', 'needs_info', 'duplicate', 'held')),
  reason              TEXT,
  raw_sha256          TEXT REFERENCES blobs (sha256),
  excerpt             TEXT,
  trusted             INTEGER NOT NULL DEFAULT 0 CHECK (trusted IN (0, 1)),
  reporter_id         TEXT,
  auth_json           TEXT NOT NULL DEFAULT '{}',
  message_id          TEXT,
  original_message_id TEXT,
  fingerprint         TEXT,
  duplicate_of        TEXT REFERENCES complaints_v6 (id),
  CHECK (CASE status
    WHEN 'linked' THEN incident_id IS NOT NULL
    WHEN 'duplicate' THEN duplicate_of IS NOT NULL
    ELSE incident_id IS NULL END)
) STRICT;
INSERT INTO complaints_v6 (id, received_at, event_time, ip, category, reporter, reporter_kind, raw, evidence, incident_id, status, reason, raw_sha256, excerpt, trusted)
  SELECT id, received_at, event_time, ip, category, reporter, reporter_kind, raw, evidence, incident_id, status, reason, raw_sha256, excerpt,
         CASE WHEN reporter_kind IN ('own_monitoring', 'upstream', 'cert') THEN 1 ELSE 0 END
  FROM complaints;
DROP TABLE complaints;
ALTER TABLE complaints_v6 RENAME TO complaints;
CREATE INDEX complaints_by_incident ON complaints (incident_id, received_at) WHERE incident_id IS NOT NULL;
CREATE INDEX complaints_by_status ON complaints (status, received_at);
CREATE INDEX complaints_by_message_id ON complaints (message_id, ip, category) WHERE message_id IS NOT NULL;
CREATE INDEX complaints_by_original_message_id ON complaints (original_message_id, ip, category) WHERE original_message_id IS NOT NULL;
CREATE INDEX complaints_by_fingerprint ON complaints (fingerprint) WHERE fingerprint IS NOT NULL;
CREATE TRIGGER complaints_raw_immutable BEFORE UPDATE OF raw ON complaints
BEGIN SELECT RAISE(ABORT, 'complaints.raw never changes'); END;
CREATE TRIGGER complaints_raw_sha256_immutable BEFORE UPDATE OF raw_sha256 ON complaints
BEGIN SELECT RAISE(ABORT, 'complaints.raw never changes'); END;
CREATE TRIGGER complaints_excerpt_immutable BEFORE UPDATE OF excerpt ON complaints
BEGIN SELECT RAISE(ABORT, 'complaints.excerpt never changes'); END;
CREATE TRIGGER complaints_auth_immutable BEFORE UPDATE OF auth_json, trusted, reporter_id, fingerprint ON complaints
BEGIN SELECT RAISE(ABORT, 'how a complaint was authenticated never changes'); END;

ALTER TABLE incidents ADD COLUMN established INTEGER NOT NULL DEFAULT 0 CHECK (established IN (0, 1));
ALTER TABLE incidents ADD COLUMN overdue INTEGER NOT NULL DEFAULT 0 CHECK (overdue IN (0, 1));
ALTER TABLE incidents ADD COLUMN opened_by TEXT NOT NULL DEFAULT 'complaint' CHECK (opened_by IN ('complaint', 'operator'));
ALTER TABLE incidents ADD COLUMN approval_id TEXT;
ALTER TABLE incidents ADD COLUMN pending_action_json TEXT;
-- Incidents that escalated before this migration passed a deadline (or were immediate): overdue as far as we know.
UPDATE incidents SET overdue = 1 WHERE escalated_at IS NOT NULL;
CREATE INDEX incidents_established ON incidents (customer_id, opened_at) WHERE established = 1;

CREATE TABLE termination_reviews (
  id             TEXT PRIMARY KEY,
  customer_id    TEXT NOT NULL,
  flagged_at     INTEGER NOT NULL,
  incidents_json TEXT NOT NULL,
  status         TEXT NOT NULL CHECK (status IN ('open', 'confirmed', 'declined')),
  decided_by     TEXT,
  decided_at     INTEGER,
  reason         TEXT,
  CHECK ((status = 'open') = (decided_by IS NULL))
) STRICT;
CREATE UNIQUE INDEX termination_reviews_one_open ON termination_reviews (customer_id) WHERE status = 'open';

ALTER TABLE approvals ADD COLUMN incident_id TEXT REFERENCES incidents (id);
ALTER TABLE approvals ADD COLUMN expires_at INTEGER;
ALTER TABLE approvals ADD COLUMN why TEXT;
`;

/**
 * The customer's voice (issue 13): links to the customer page (only a hash of
 * each token is kept), everything the customer said (page answers, mail
 * replies, auto-replies, bounces, and notes an operator recorded for them),
 * the evidence files they uploaded, a notice that could not be delivered,
 * and where each reporter wants the outcome.
 */
const CUSTOMER_VOICE = `
CREATE TABLE customer_links (
  id          TEXT PRIMARY KEY,
  incident_id TEXT NOT NULL REFERENCES incidents (id),
  customer_id TEXT NOT NULL,
  contact     TEXT NOT NULL,
  token_hash  TEXT NOT NULL UNIQUE CHECK (length(token_hash) = 64),
  created_at  INTEGER NOT NULL,
  created_by  TEXT NOT NULL,
  revoked_at  INTEGER,
  revoked_by  TEXT,
  CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
) STRICT;
CREATE INDEX customer_links_by_incident ON customer_links (incident_id, created_at);

CREATE TABLE customer_messages (
  id             TEXT PRIMARY KEY,
  incident_id    TEXT NOT NULL REFERENCES incidents (id),
  at             INTEGER NOT NULL,
  channel        TEXT NOT NULL CHECK (channel IN ('page', 'mail', 'operator')),
  kind           TEXT NOT NULL CHECK (kind IN ('answer', 'reply', 'auto_reply', 'bounce')),
  answer         TEXT CHECK (answer IN ('ack', 'fixed', 'false_positive', 'plan')),
  plan_due_at    INTEGER,
  body           TEXT NOT NULL,
  actor          TEXT NOT NULL,
  source_address TEXT,
  user_agent     TEXT,
  message_id     TEXT,
  submission_id  TEXT,
  raw_sha256     TEXT REFERENCES blobs (sha256),
  seen_by        TEXT,
  seen_at        INTEGER,
  CHECK ((kind = 'answer') = (answer IS NOT NULL))
) STRICT;
CREATE INDEX customer_messages_by_incident ON customer_messages (incident_id, at);
CREATE INDEX customer_messages_unseen ON customer_messages (at) WHERE seen_at IS NULL;
-- A form submitted twice records one answer; a mail delivered twice threads once.
CREATE UNIQUE INDEX customer_messages_one_submission ON customer_messages (incident_id, submission_id) WHERE submission_id IS NOT NULL;
CREATE UNIQUE INDEX customer_messages_one_mail ON customer_messages (incident_id, message_id) WHERE message_id IS NOT NULL;

CREATE TABLE customer_files (
  id           TEXT PRIMARY KEY,
  message_id   TEXT NOT NULL REFERENCES customer_messages (id),
  incident_id  TEXT NOT NULL REFERENCES incidents (id),
  filename     TEXT NOT NULL,
  content_type TEXT NOT NULL,
  size         INTEGER NOT NULL CHECK (size >= 0),
  sha256       TEXT NOT NULL CHECK (length(sha256) = 64),
  bytes        BLOB NOT NULL
) STRICT;
CREATE INDEX customer_files_by_message ON customer_files (message_id);
CREATE TRIGGER customer_files_no_update BEFORE UPDATE ON customer_files
BEGIN SELECT RAISE(ABORT, 'evidence files never change'); END;

ALTER TABLE incidents ADD COLUMN notice_undelivered_at INTEGER;
ALTER TABLE complaints ADD COLUMN reply_to TEXT;
ALTER TABLE reporters ADD COLUMN notify_outcome INTEGER CHECK (notify_outcome IN (0, 1));

-- Each row's random ref goes into its mail's Message-ID (<outbox-ID.REF@cordon>), so a reply or
-- bounce can name a mail only when its sender received it. Rows queued before get one here.
ALTER TABLE outbox ADD COLUMN ref TEXT CHECK (ref IS NULL OR length(ref) = 32);
UPDATE outbox SET ref = lower(hex(randomblob(16))) WHERE ref IS NULL;
`;

/**
 * The desk's queue asks on every page for open incidents that are held or
 * whose notice failed; without this index that is a scan of every incident
 * ever opened (13 ms at 100,000, most of them closed). The WHERE is the
 * queue's own, term for term, so SQLite can prove the index covers it.
 */
const DESK_QUEUE = `
CREATE INDEX incidents_flagged_open ON incidents (opened_at)
  WHERE (hold IS NOT NULL OR notice_undelivered_at IS NOT NULL) AND state NOT IN ('closed', 'dismissed', 'released');
`;

/**
 * Why a second operator refused an approval: said in words on the desk and
 * in the requester's listing, not only in the audit log's detail. Older
 * rejections keep NULL (their reason is in the audit entry).
 */
const APPROVAL_REJECTIONS = `
ALTER TABLE approvals ADD COLUMN decision_reason TEXT CHECK (decision_reason IS NULL OR (status = 'rejected' AND length(decision_reason) <= 2000));
`;

/**
 * The desk's queue, every reason a person is needed (desk/queueReasons.ts),
 * read as one `ORDER BY since LIMIT n` per reason on an index, so a page
 * costs what it shows, not what waits. Each partial index's WHERE is its
 * query's (desk/deskQueueSql.ts), term for term, so SQLite can prove
 * the index covers it.
 *
 * `held_at`: when an incident's current hold was set, the time of its last
 * `held` event. The events are append-only and every hold appends one, so a
 * trigger keeps the column; the queue orders held incidents by it without
 * reading each one's history. Incidents held before this migration get it
 * from their history here.
 */
const DESK_QUEUE_REASONS = `
ALTER TABLE incidents ADD COLUMN held_at INTEGER;
UPDATE incidents SET held_at = (SELECT e.at FROM incident_events e WHERE e.incident_id = incidents.id AND e.type = 'held' ORDER BY e.id DESC LIMIT 1)
  WHERE hold IS NOT NULL;
CREATE TRIGGER incidents_held_at AFTER INSERT ON incident_events WHEN NEW.type = 'held'
BEGIN UPDATE incidents SET held_at = NEW.at WHERE id = NEW.incident_id; END;

-- Appealed, release requested, customer resolved, disputed: since the customer's answer.
CREATE INDEX incidents_queue_answered ON incidents (state, COALESCE(answered_at, opened_at), id)
  WHERE state IN ('appealed', 'release_requested', 'customer_resolved', 'disputed');
CREATE INDEX incidents_queue_held ON incidents (COALESCE(held_at, escalated_at, opened_at), id)
  WHERE hold IS NOT NULL AND state NOT IN ('closed', 'dismissed', 'released');
CREATE INDEX incidents_queue_bounced ON incidents (notice_undelivered_at, id)
  WHERE notice_undelivered_at IS NOT NULL AND state NOT IN ('closed', 'dismissed', 'released');
-- Per incident: its unseen messages, oldest first (is this message its oldest unseen one, how many).
CREATE INDEX customer_messages_unseen_by_incident ON customer_messages (incident_id, at, id) WHERE seen_at IS NULL;
-- Hosts with a cut in force, and when their BMC last answered.
CREATE INDEX enforcements_cuts ON enforcements (host_id, since) WHERE kind IN ('isolate', 'nic_down');
CREATE INDEX bmc_checks_by_host_reachable ON bmc_checks (host_id, reachable, at);
-- The incident page lists an incident's mails (outbox by incident): without this, a scan of the outbox.
CREATE INDEX outbox_by_incident ON outbox (incident_id, id) WHERE incident_id IS NOT NULL;
`;

/**
 * Several controller replicas on one database (issue 15; PostgreSQL only in
 * practice, the tables exist on both engines so the schema versions agree).
 * `replicas`: each running controller and when it last said it was alive
 * (wall-clock ms: liveness is a fact of the wire, not of the incident clock).
 * `agent_links`: which replica holds each host's agent stream and the
 * session as that replica last saw it, so every replica sees the whole
 * fleet. (The drill clock needs no table: its offset is the sum of the
 * audit log's `clock.advance` entries, which every replica reads.)
 */
const REPLICAS = `
CREATE TABLE replicas (
  id         TEXT PRIMARY KEY,
  listen     TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  seen_at    INTEGER NOT NULL
) STRICT;
CREATE TABLE agent_links (
  host_id         TEXT PRIMARY KEY,
  replica_id      TEXT NOT NULL,
  live            INTEGER NOT NULL CHECK (live IN (0, 1)),
  connected_since INTEGER NOT NULL,
  session_json    TEXT NOT NULL,
  changed_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX agent_links_by_replica ON agent_links (replica_id, host_id);
`;

/**
 * The table PostgreSQL's write transactions lock first, so replicas write
 * one at a time (PgDatabase's writeLock): empty and never written, so no
 * vacuum ever needs it for longer than an instant (locking audit_log
 * itself would have made every autovacuum of it hold the replicas' writes
 * up, an anti-wraparound one for its whole run). Unused on SQLite, whose
 * one file has one writer; created there too so both schemas stay the same.
 */
const WRITE_LOCK = `
CREATE TABLE write_lock (
  id INTEGER PRIMARY KEY CHECK (id = 1)
) STRICT;
`;

/**
 * What the switch last said about each port Cordon may shut: when it last
 * confirmed the state Cordon holds (a read-back after a change, or a later
 * check), and the failure since then, if any (its kind and message, and when
 * it began), so no one reads a cut the switch never confirmed.
 */
const SWITCH_OBSERVATIONS = `
ALTER TABLE host_switches ADD COLUMN confirmed_at INTEGER;
ALTER TABLE host_switches ADD COLUMN error TEXT;
ALTER TABLE host_switches ADD COLUMN error_kind TEXT;
ALTER TABLE host_switches ADD COLUMN error_since INTEGER;
`;

/**
 * A release not yet confirmed (`releasing`) no longer takes complaints, as a
 * released incident never did: a new complaint after the operator's release
 * opens a new incident, so the one-open index leaves it out.
 */
const RELEASING_CLOSED_TO_COMPLAINTS = `
DROP INDEX incidents_one_open;
CREATE UNIQUE INDEX incidents_one_open ON incidents (host_id, category)
  WHERE state NOT IN ('closed', 'dismissed', 'released', 'releasing');
`;

/**
 * Where a complaint's event time comes from: 'report' when the report states
 * when the abuse happened, 'receipt' when it states none and the report's own
 * Date stands in (intake/types ParsedComplaint.eventTimeSource), so the desk
 * and the customer's notice never present a receipt time as the reporter's
 * statement. Rows from before read 'report', the assumption of their time:
 * some of them may hold a receipt time that was never marked.
 */
const EVENT_TIME_SOURCE = `
ALTER TABLE complaints ADD COLUMN event_time_source TEXT NOT NULL DEFAULT 'report'
  CHECK (event_time_source IN ('report', 'receipt'));
`;

/**
 * An operator's own action on a host (no incident named) opens its own
 * incident, and complaints open theirs: one open incident per host, category
 * and opener. Sharing one (category 'other') let an operator's action put a
 * complaint's incident in force before its deadline, and refused the
 * customer's in-time answer to that complaint.
 */
const OPENERS_APART = `
DROP INDEX incidents_one_open;
CREATE UNIQUE INDEX incidents_one_open ON incidents (host_id, category, opened_by)
  WHERE state NOT IN ('closed', 'dismissed', 'released', 'releasing');
`;

/** Every migration, in order; versions start at 1 and have no gaps. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'init', sql: INIT },
  { version: 2, name: 'bmc', sql: BMC },
  { version: 3, name: 'switches', sql: SWITCHES },
  { version: 4, name: 'blobs', sql: BLOBS },
  { version: 5, name: 'excerpts', sql: EXCERPTS },
  { version: 6, name: 'due_process', sql: DUE_PROCESS },
  { version: 7, name: 'customer_voice', sql: CUSTOMER_VOICE },
  { version: 8, name: 'desk_queue', sql: DESK_QUEUE },
  { version: 9, name: 'approval_rejections', sql: APPROVAL_REJECTIONS },
  { version: 10, name: 'desk_queue_reasons', sql: DESK_QUEUE_REASONS },
  { version: 11, name: 'replicas', sql: REPLICAS },
  { version: 12, name: 'write_lock', sql: WRITE_LOCK },
  { version: 13, name: 'switch_observations', sql: SWITCH_OBSERVATIONS },
  { version: 14, name: 'releasing_closed_to_complaints', sql: RELEASING_CLOSED_TO_COMPLAINTS },
  { version: 15, name: 'event_time_source', sql: EVENT_TIME_SOURCE },
  { version: 16, name: 'openers_apart', sql: OPENERS_APART },
];
