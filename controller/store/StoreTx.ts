import { CordonError } from '../../proto/runtime/CordonError.js';
import type { Category, Incident } from '../incidents/model.js';
import type { Host } from '../inventory/Inventory.js';
import type { AuditInput } from './AuditLog.js';
import type { HostBmc, StoredBmcCheck } from './BmcRepo.js';
import type { ComplaintLink, DuplicateKey, DuplicateRef } from './ComplaintsRepo.js';
import type { Customer } from './CustomersRepo.js';
import type { CustomerLink } from './CustomerLinksRepo.js';
import type { IncidentEventInput } from './EventsRepo.js';
import type { OutboxInput } from './OutboxRepo.js';
import { DesiredWrites } from './DesiredWrites.js';
import { HostMatcher } from './HostMatcher.js';
import type { Store } from './Store.js';
import type { Complaint } from '../incidents/model.js';

type Opener = Incident['openedBy'];
const OPENERS: readonly Opener[] = ['complaint', 'operator'];
/** Complaints and an operator's own actions never share an open incident (migration 16): the opener is part of the key. */
const openKey = (hostId: string, category: Category, openedBy: Opener) => `${hostId}\u0000${category}\u0000${openedBy}`;

/**
 * One transaction's unit of work over the Store, for code that makes many
 * changes in it (intake of a report with thousands of complaints).
 *
 * Reads: what it read once it remembers, because inside a transaction that
 * holds SQLite's write lock nothing else changes the rows, except what this
 * transaction writes, which it records as it goes (updateIncident,
 * noteEstablished, noteEnforcementChanged, noteRestrictionChanged).
 * Writes: new incidents, the actions they take (DesiredWrites), complaints,
 * incident updates, events, audit entries, customer links and outbox
 * messages are queued and written by `flush()` in bulk (multi-row INSERTs
 * and UPDATEs, one row per incident however often it changed), each table
 * in the order queued, rows that others refer to first; the audit chain
 * comes out as if appended one by one. A read of a queued table through
 * this class writes the queue first.
 *
 * Rules: create it inside the transaction, call `flush()` before the
 * transaction's function returns (its errors then roll everything back),
 * and before reading back a queued table (incidents, enforcements,
 * complaints, incident_events, audit_log, outbox) through the repositories.
 * Throw it away with its transaction.
 */
export class StoreTx {
  readonly hosts: HostMatcher;
  /** The open incident per host, category and opener (openKey): complaints and operators never share one. */
  private readonly open = new Map<string, Incident | undefined>();
  private readonly customerCounts = new Map<string, number>();
  private automatic: { sinceMs: number; n: number } | undefined;
  private readonly bmcChecks = new Map<string, StoredBmcCheck | undefined>();
  private readonly hostRows = new Map<string, Host | undefined>();
  private readonly customerRows = new Map<string, Customer | undefined>();
  private readonly bmcRows = new Map<string, HostBmc | undefined>();
  /** Incidents this transaction inserted; their enforcements are this transaction's too. */
  private readonly inserted = new Set<string>();
  /** Incidents of `inserted` that took enforcements in this transaction (then they hold some). */
  private readonly enforced = new Set<string>();

  private complaints: { complaint: Complaint; link: ComplaintLink }[] = [];
  private heldLinks: { complaintId: string; incidentId: string; reason: string }[] = [];
  private events: IncidentEventInput[] = [];
  private audits: AuditInput[] = [];
  private updates = new Map<string, { incident: Incident; nextDueAt: Date | undefined }>();
  private outbox: OutboxInput[] = [];
  private newLinks: Omit<CustomerLink, 'revokedAt' | 'revokedBy'>[] = [];
  /** Customer links read ahead (prefetchLinks) and made here, per incident: only incidents read ahead are known. */
  private readonly links = new Map<string, CustomerLink[]>();
  /** Each customer's hosts and whether each is restricted; an entry goes when one of its hosts' enforcements changes. */
  private readonly customerHostRows = new Map<string, { hostId: string; restricted: boolean }[]>();
  /** Incidents opened here and not written yet, with their latest fields (a later change replaces the queued row). */
  private newIncidents = new Map<string, { incident: Incident; nextDueAt: Date | undefined }>();
  /** For incidents opened here: every complaint linked to them and every event, which this transaction made (no read needed). */
  private readonly hereComplaints = new Map<string, Complaint[]>();
  private readonly hereEvents = new Map<string, IncidentEventInput[]>();
  readonly desired: DesiredWrites;

  constructor(private readonly store: Store) {
    this.hosts = new HostMatcher(store.hosts);
    this.desired = new DesiredWrites(store.desired, () => this.flushIncidents());
  }

  /**
   * Reads ahead, in a few queries, what routing these complaints will ask:
   * each address's host, those hosts' open incidents, latest BMC check,
   * host row and BMC, their customers, and (given `since`) how many
   * incidents each customer opened since then. Call it before the
   * transaction's first change.
   */
  async prefetch(complaints: readonly { ip: string; category: string }[], since?: Date): Promise<void> {
    await this.hosts.prefetch(complaints.map((c) => c.ip));
    const hostIds = new Set<string>();
    for (const c of complaints) {
      const m = await this.hosts.match(c.ip).catch(() => undefined);
      if (m) hostIds.add(m.hostId);
    }
    await this.prefetchHosts([...hostIds], [...new Set(complaints.map((c) => c.category))], since);
  }

  /**
   * Reads ahead what acting on these hosts will ask: their rows, BMCs,
   * customers, open incidents of these categories, latest BMC checks, and
   * (given `since`) how many incidents each customer opened since then. For
   * intake, and for an approved action on many hosts. Call it before the
   * transaction's first change.
   */
  async prefetchHosts(hostIds: readonly string[], categories: readonly string[], since?: Date): Promise<void> {
    if (hostIds.length === 0) return;
    const newHosts = hostIds.filter((h) => !this.hostRows.has(h));
    const hosts = new Map((await this.store.hosts.getMany(newHosts)).map((h) => [h.id, h]));
    const bmcs = new Map((await this.store.bmcs.getMany(newHosts)).map((b) => [b.hostId, b]));
    for (const h of newHosts) {
      this.hostRows.set(h, hosts.get(h));
      this.bmcRows.set(h, bmcs.get(h));
    }
    const customerIds = new Set(hostIds.map((h) => this.hostRows.get(h)?.customerId).filter((c): c is string => c !== undefined));
    const newCustomers = [...customerIds].filter((c) => !this.customerRows.has(c));
    const customers = new Map((await this.store.customers.getMany(newCustomers)).map((c) => [c.id, c]));
    for (const c of newCustomers) this.customerRows.set(c, customers.get(c));
    if (since) {
      const uncounted = [...customerIds].filter((c) => !this.customerCounts.has(`${c}\u0000${since.getTime()}`));
      for (const [c, n] of await this.store.incidents.countEstablishedForCustomersSince(uncounted, since)) this.customerCounts.set(`${c}\u0000${since.getTime()}`, n);
    }
    await this.desired.prefetch(hostIds);
    const fresh = hostIds.filter((h) => !this.bmcChecks.has(h));
    if (categories.length > 0) {
      await this.flushUpdates(); // the table must show what this transaction changed
      const found = new Map((await this.store.incidents.findOpenForHosts(fresh)).map((i) => [openKey(i.hostId, i.category, i.openedBy), i]));
      for (const hostId of fresh) {
        for (const category of categories) {
          for (const by of OPENERS) {
            const key = openKey(hostId, category as Category, by);
            if (!this.open.has(key)) this.open.set(key, found.get(key));
          }
        }
      }
    }
    const checks = await this.store.bmcs.latestForHosts(fresh);
    for (const hostId of fresh) this.bmcChecks.set(hostId, checks.get(hostId));
  }

  /** Reads ahead these incidents' customer links (for `knownLinks`). */
  async prefetchLinks(incidentIds: readonly string[]): Promise<void> {
    const unknown = incidentIds.filter((id) => !this.links.has(id));
    for (const [id, links] of await this.store.customerLinks.listByIncidents(unknown)) this.links.set(id, links);
  }

  /** The incident's customer links, oldest first, when read ahead; undefined when not (the caller reads them). */
  knownLinks(incidentId: string): readonly CustomerLink[] | undefined {
    return this.links.get(incidentId);
  }

  /** Queues a new customer link (written by `flush()`); an incident read ahead knows it at once. */
  insertLink(link: Omit<CustomerLink, 'revokedAt' | 'revokedBy'>): void {
    this.newLinks.push(link);
    this.links.get(link.incidentId)?.push({ ...link, revokedAt: undefined, revokedBy: undefined });
  }

  /** Reads ahead these customers' hosts (for `customerHosts`). */
  async prefetchCustomerHosts(customerIds: readonly string[]): Promise<void> {
    const unknown = customerIds.filter((c) => !this.customerHostRows.has(c));
    if (unknown.length > 0) await this.desired.flush();
    for (const [c, hosts] of await this.store.desired.customerHostsMany(unknown)) this.customerHostRows.set(c, hosts);
  }

  /** The customer's hosts and whether each carries an enforcement now, this transaction's changes included. */
  async customerHosts(customerId: string): Promise<readonly { hostId: string; restricted: boolean }[]> {
    let hosts = this.customerHostRows.get(customerId);
    if (!hosts) {
      await this.desired.flush();
      this.customerHostRows.set(customerId, (hosts = await this.store.desired.customerHosts(customerId)));
    }
    return hosts;
  }

  /**
   * One of the customer's hosts had its enforcements changed: `restricted`
   * names the host when it now carries one for sure (an action was taken);
   * otherwise (one lifted, others may stand) the customer's hosts are read
   * again.
   */
  noteRestrictionChanged(customerId: string, restricted?: string): void {
    const hosts = this.customerHostRows.get(customerId);
    const host = restricted === undefined ? undefined : hosts?.find((h) => h.hostId === restricted);
    if (host) host.restricted = true;
    else this.customerHostRows.delete(customerId);
  }

  /** Queues an outbox message (written by `flush()`, after everything else queued). */
  enqueue(input: OutboxInput): void {
    this.outbox.push(input);
  }

  /** Writes the queued outbox messages now, before reading the outbox in this transaction. */
  async outboxVisible(): Promise<void> {
    await this.flushIncidents();
    const outbox = this.outbox;
    this.outbox = [];
    await this.store.outbox.enqueueMany(outbox);
  }

  /** The host's open incident of this category as read ahead or left here, without a read (undefined when not known or none). */
  knownOpen(hostId: string, category: Category, openedBy: Opener = 'complaint'): Incident | undefined {
    const i = this.open.get(openKey(hostId, category, openedBy));
    return i && !['closed', 'dismissed', 'released', 'releasing'].includes(i.state) ? i : undefined;
  }

  /** The host's open incident of this category, as this transaction last left it. */
  async findOpen(hostId: string, category: Category, openedBy: Opener = 'complaint'): Promise<Incident | undefined> {
    const key = openKey(hostId, category, openedBy);
    if (!this.open.has(key)) {
      // A queued update may have closed the incident the table still shows open.
      if ([...this.updates.values()].some((u) => openKey(u.incident.hostId, u.incident.category, u.incident.openedBy) === key)) await this.flushUpdates();
      await this.flushIncidents();
      this.open.set(key, await this.store.incidents.findOpen(hostId, category, openedBy));
    }
    const i = this.open.get(key);
    return i && !['closed', 'dismissed', 'released', 'releasing'].includes(i.state) ? i : undefined;
  }

  /** The customer's established incidents opened at or after `since`, this transaction's changes included. */
  async countEstablishedForCustomerSince(customerId: string, since: Date): Promise<number> {
    const key = `${customerId}\u0000${since.getTime()}`;
    let n = this.customerCounts.get(key);
    if (n === undefined) {
      await this.flushUpdates();
      this.customerCounts.set(key, (n = (await this.store.incidents.countEstablishedForCustomersSince([customerId], since)).get(customerId) ?? 0));
    }
    return n;
  }

  /** An incident became established (+1) or stopped counting (-1): the customer's counts follow. */
  noteEstablished(incident: Incident, delta: 1 | -1): void {
    for (const [key, n] of this.customerCounts) {
      const [customerId, sinceMs] = key.split('\u0000');
      if (customerId === incident.customerId && incident.openedAt.getTime() >= Number(sinceMs)) this.customerCounts.set(key, n + delta);
    }
  }

  /**
   * For each complaint, the earlier one it repeats (ComplaintsRepo.findDuplicates),
   * this transaction's queued complaints included: a report whose complaints
   * were queued here is compared with them too.
   */
  async findDuplicates(keys: readonly DuplicateKey[]): Promise<(DuplicateRef | undefined)[]> {
    if (this.complaints.length > 0) await this.flushComplaints();
    return this.store.complaints.findDuplicates(keys);
  }

  /** The host's last resolved incident of this category (IncidentsRepo.lastResolution), this transaction's updates included. */
  async lastResolution(hostId: string, category: Category): Promise<{ incidentId: string; at: Date } | undefined> {
    if ([...this.updates.values()].some((u) => u.incident.hostId === hostId && u.incident.category === category)) await this.flushUpdates();
    return this.store.incidents.lastResolution(hostId, category);
  }

  /** Automatic enforcement starts at or after `since`, fleet-wide. */
  async countAutomaticSince(since: Date): Promise<number> {
    if (this.automatic?.sinceMs !== since.getTime()) {
      await this.desired.flush();
      this.automatic = { sinceMs: since.getTime(), n: await this.store.desired.countAutomaticSince(since) };
    }
    return this.automatic.n;
  }

  latestBmcCheck(hostId: string): Promise<StoredBmcCheck | undefined> {
    return this.cached(this.bmcChecks, hostId, () => this.store.bmcs.latest(hostId));
  }

  host(hostId: string): Promise<Host | undefined> {
    return this.cached(this.hostRows, hostId, () => this.store.hosts.get(hostId));
  }

  customer(customerId: string): Promise<Customer | undefined> {
    return this.cached(this.customerRows, customerId, () => this.store.customers.get(customerId));
  }

  bmc(hostId: string): Promise<HostBmc | undefined> {
    return this.cached(this.bmcRows, hostId, () => this.store.bmcs.get(hostId));
  }

  /** Inserts a new incident now (later rows refer to it) and remembers it; `opened` counts it for its customer's window. */
  /** Whether this transaction inserted the incident (it then holds only what this transaction gave it). */
  isNewIncident(incidentId: string): boolean {
    return this.inserted.has(incidentId);
  }

  /** Whether this transaction already set enforcements for the incident. */
  hasEnforced(incidentId: string): boolean {
    return this.enforced.has(incidentId);
  }

  noteEnforced(incidentId: string): void {
    this.enforced.add(incidentId);
  }

  /**
   * Queues a new incident (written first by any flush) and remembers it: it
   * is the open one of its host and category, with no customer links yet.
   * The one-open index still decides at the write, which names a conflict.
   */
  async insertIncident(incident: Incident, nextDueAt: Date | undefined): Promise<void> {
    if (this.inserted.has(incident.id) || this.updates.has(incident.id)) throw new CordonError('conflict', `incident ${incident.id} already exists`, { field: 'id' });
    // One this transaction closed for the same host, category and opener is closed in the table first (the one-open index).
    const key = openKey(incident.hostId, incident.category, incident.openedBy);
    if ([...this.updates.values()].some((u) => openKey(u.incident.hostId, u.incident.category, u.incident.openedBy) === key)) await this.flushUpdates();
    this.newIncidents.set(incident.id, { incident, nextDueAt });
    this.inserted.add(incident.id);
    this.open.set(key, incident);
    if (!this.links.has(incident.id)) this.links.set(incident.id, []);
    this.hereComplaints.set(incident.id, []);
    this.hereEvents.set(incident.id, []);
  }

  /** The complaints linked to the incident, oldest first; for one opened here, without a read. */
  async linkedComplaints(incidentId: string): Promise<Complaint[]> {
    const here = this.hereComplaints.get(incidentId);
    if (here) return [...here].sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    await this.flushComplaints();
    return (await this.store.complaints.listByIncident(incidentId)).filter((c) => c.status === 'linked');
  }

  /** The incident's events, oldest first (type, actor, detail); for one opened here, without a read. */
  async eventsOf(incidentId: string): Promise<readonly Pick<IncidentEventInput, 'type' | 'actor' | 'detail'>[]> {
    const here = this.hereEvents.get(incidentId);
    if (here) return here;
    await this.flush();
    return this.store.events.list(incidentId);
  }

  /** The incident as this transaction leaves it: queued here, or read from the table. */
  async incident(id: string): Promise<Incident | undefined> {
    const queued = this.newIncidents.get(id) ?? this.updates.get(id);
    return queued ? queued.incident : this.store.incidents.get(id);
  }

  /** Queues an incident's new fields (the last one queued per incident is written). */
  updateIncident(incident: Incident, nextDueAt: Date | undefined): void {
    if (this.newIncidents.has(incident.id)) this.newIncidents.set(incident.id, { incident, nextDueAt }); // not written yet: written as it ends up
    else {
      // Re-queued last, so updates are written in the order of their last change.
      this.updates.delete(incident.id);
      this.updates.set(incident.id, { incident, nextDueAt });
    }
    const key = openKey(incident.hostId, incident.category, incident.openedBy);
    const open = !['closed', 'dismissed', 'released', 'releasing'].includes(incident.state);
    // An open incident is the one open for its host and category; a closed one replaces only itself in what we know.
    if (open || this.open.get(key)?.id === incident.id) this.open.set(key, incident);
  }

  /** Something changed the enforcement starts (DesiredStateRepo.setIncidentActions): the count is read again. */
  /** An enforcement changed; only an automatic one can change the hourly count of automatic starts. */
  noteEnforcementChanged(automatic: boolean): void {
    if (automatic) this.automatic = undefined;
  }

  insertComplaint(complaint: Complaint, link: ComplaintLink): void {
    this.complaints.push({ complaint, link });
    if (link.status === 'linked' && link.incidentId !== null) this.hereComplaints.get(link.incidentId)?.push(complaint);
  }

  /** Links a held complaint (already stored) to the incident an operator admitted it into; written by `flush()`. */
  linkHeld(complaintId: string, incidentId: string, reason: string): void {
    this.heldLinks.push({ complaintId, incidentId, reason });
    this.hereComplaints.delete(incidentId); // a stored complaint joins it: read them from the table
  }

  appendEvent(e: IncidentEventInput): void {
    this.events.push(e);
    this.hereEvents.get(e.incidentId)?.push(e);
  }

  appendAudit(a: AuditInput): void {
    this.audits.push(a);
  }

  /** Writes everything queued. Inside the transaction; an error leaves the queue emptied and the transaction to roll back. */
  async flush(): Promise<void> {
    await this.flushIncidents();
    await this.desired.flush();
    const events = this.events;
    const audits = this.audits;
    this.events = [];
    this.audits = [];
    await this.flushComplaints();
    await this.flushUpdates();
    await this.store.events.appendMany(events);
    await this.store.audit.appendMany(audits);
    const links = this.newLinks;
    this.newLinks = [];
    await this.store.customerLinks.insertMany(links);
    await this.outboxVisible();
  }

  /** Writes the incidents opened here: before anything that refers to them, and before reading incidents. */
  async flushIncidents(): Promise<void> {
    if (this.newIncidents.size === 0) return;
    const rows = [...this.newIncidents.values()];
    this.newIncidents = new Map();
    await this.store.incidents.insertMany(rows);
  }

  private async flushComplaints(): Promise<void> {
    await this.flushIncidents();
    const complaints = this.complaints;
    const held = this.heldLinks;
    this.complaints = [];
    this.heldLinks = [];
    await this.store.complaints.insertMany(complaints);
    for (const h of held) await this.store.complaints.resolveHeld(h.complaintId, { incidentId: h.incidentId, status: 'linked', reason: h.reason });
  }

  private async flushUpdates(): Promise<void> {
    await this.flushIncidents();
    if (this.updates.size === 0) return;
    const updates = [...this.updates.values()];
    this.updates = new Map();
    await this.store.incidents.updateMany(updates);
  }

  private async cached<T>(map: Map<string, T | undefined>, key: string, read: () => Promise<T | undefined>): Promise<T | undefined> {
    if (!map.has(key)) map.set(key, await read());
    return map.get(key);
  }
}
