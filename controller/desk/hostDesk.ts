import { randomUUID } from 'node:crypto';
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, sep } from 'node:path';
import {
  AgentState,
  DispatchStatus,
  type AddHostRequest,
  type Bmc,
  type Customer as CustomerMsg,
  type GetHostRequest,
  type Host as HostMsg,
  type HostDetail,
  type SetCustomerContactRequest,
  type SetHostBmcRequest,
} from '../../proto/gen/cordon/v1/desk.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { roleAtLeast, type OperatorRole } from '../../proto/runtime/peerIdentity.js';
import type { CallContext } from '../../proto/runtime/rpcServer.js';
import { checkBmcTarget } from '../bmc/buildIpmitoolArgs.js';
import { toProtoEnforcement } from '../dispatch/toProtoState.js';
import { parseInventory } from '../inventory/Inventory.js';
import { CONTACT_CHANGED, maskEmail, type ContactChangedPayload } from '../mail/renderContactChanged.js';
import type { HostBmc } from '../store/BmcRepo.js';
import { checkEmailAddress } from '../store/CustomersRepo.js';
import type { Store } from '../store/Store.js';
import type { EnforcementObservation } from '../incidents/observeEnforcement.js';
import type { ObserverReads } from '../dispatch/EnforcementObserver.js';
import type { EnforcementObservation as EnforcementObservationMsg } from '../../proto/gen/cordon/v1/desk.js';

export interface HostDeskDeps {
  store: Store;
  clock: () => Date;
  /** After hosts changed: refresh the agent link's inventory snapshot. */
  onHostsChanged: () => Promise<void>;
  /**
   * `bmc.credentialsDir`: BMC password files must lie inside it once symlinks
   * are resolved. Absent: BMC credentials cannot be set over the desk.
   */
  bmcCredentialsDir?: string | undefined;
  /** Whether the host's agent is connected now (for the dispatch status). */
  agentConnected: (hostId: string) => boolean;
  /** What the agent or the switch confirmed of each host's enforcement (EnforcementObserver); absent: not shown. */
  observe?: ((hostIds: readonly string[], loaded?: ObserverReads) => Promise<Map<string, EnforcementObservation>>) | undefined;
}

const IPMI_PORT = 623;

function operatorOf(ctx: CallContext): { name: string; role: OperatorRole } {
  if (ctx.peer.kind !== 'operator') throw new CordonError('permission', 'operator certificates only');
  return { name: ctx.peer.name, role: ctx.peer.role };
}

/** What the audit log keeps of a BMC: where and how, never the password (only the path of its file). */
function auditedBmc(b: HostBmc | undefined) {
  return b ? { address: b.address, port: b.port, user: b.user, passwordFile: b.passwordFile, sol: b.sol, cipherSuite: b.cipherSuite ?? null } : null;
}

function toBmcMsg(b: HostBmc): Bmc {
  return { address: b.address, port: b.port, user: b.user, passwordFile: b.passwordFile, sol: b.sol, cipherSuite: b.cipherSuite ?? 0 };
}

/**
 * The desk's calls that change who is told and how a host's console is
 * reached: adding hosts, a customer's notice address, a host's BMC. Roles
 * are checked by `authorize` first (AddHost technician, SetCustomerContact
 * abuse_operator, SetHostBmc admin); what depends on the request (a `bmc`
 * block in AddHost) is checked here.
 */
export function createHostDesk(deps: HostDeskDeps) {
  /**
   * Checks a requested BMC and binds its password file: an absolute path
   * whose real path (symlinks resolved) is a regular file with one link,
   * inside the real `bmc.credentialsDir`. Returns the BMC with that real
   * path, so `../` and links can never make two hosts share one file
   * unnoticed. `field` prefixes the fields errors name (`bmc`, `host.bmc`).
   */
  async function bindBmc(hostId: string, b: Bmc, field: string): Promise<HostBmc> {
    const port = b.port || IPMI_PORT;
    const cipherSuite = b.cipherSuite || undefined;
    try {
      checkBmcTarget({ hostId, address: b.address, port, user: b.user, passwordFile: b.passwordFile, sol: b.sol, ...(cipherSuite !== undefined ? { cipherSuite } : {}) });
    } catch (err) {
      if (err instanceof CordonError && err.field) {
        throw new CordonError(err.kind, err.message.slice(err.field.length + 2), { field: `${field}.${err.field}`, cause: err });
      }
      throw err;
    }
    const fileField = `${field}.passwordFile`;
    if (!b.passwordFile || !isAbsolute(b.passwordFile) || b.passwordFile.includes('\0')) {
      throw new CordonError('invalid', 'must be the absolute path of a file on the controller holding the password', { field: fileField });
    }
    if (!deps.bmcCredentialsDir) throw new CordonError('unsupported', 'this controller has no bmc.credentialsDir: BMC credentials cannot be set over the desk');
    let dir: string;
    try {
      dir = await realpath(deps.bmcCredentialsDir);
    } catch (err) {
      throw new CordonError('unsupported', `the controller's bmc.credentialsDir ${deps.bmcCredentialsDir} does not exist`, { cause: err });
    }
    let file: string;
    try {
      file = await realpath(b.passwordFile);
    } catch (err) {
      throw new CordonError('invalid', `${b.passwordFile} does not exist on the controller`, { field: fileField, cause: err });
    }
    const inside = relative(dir, file);
    if (inside === '' || isAbsolute(inside) || inside === '..' || inside.startsWith(`..${sep}`)) {
      const via = file === b.passwordFile ? '' : ` (it resolves to ${file})`;
      throw new CordonError('refused', `${b.passwordFile}${via} is outside the BMC credentials directory ${deps.bmcCredentialsDir}`, { field: fileField });
    }
    const st = await stat(file);
    if (!st.isFile()) throw new CordonError('invalid', `${b.passwordFile} is not a regular file`, { field: fileField });
    // A hard link is a second name for another host's file, which no path comparison sees.
    if (st.nlink !== 1) throw new CordonError('refused', `${b.passwordFile} has ${st.nlink} hard links; a password file must be a file of its own`, { field: fileField });
    return { hostId, protocol: 'ipmi', address: b.address, port, user: b.user, passwordFile: file, sol: b.sol, cipherSuite };
  }

  return {
    /**
     * One host as the desk shows it: inventory, customer contact, BMC (never
     * its password) and its last check, switch port, and what it should
     * enforce (generation, each enforcement with its incident and reason)
     * against what the agent last reported. The agent's session (state,
     * heartbeat, generation held) is ListAgents'.
     */
    async getHost(req: GetHostRequest): Promise<HostDetail> {
      const [detail] = await readHostDetails(deps, [req.id]);
      if (!detail) throw new CordonError('not_found', `no host ${req.id}`, { field: 'id' });
      return detail;
    },

    /** GetHost for many hosts in a handful of queries (the fleet page); see readHostDetails. */
    getHostDetails(ids: readonly string[]): Promise<HostDetail[]> {
      return readHostDetails(deps, ids);
    },

    /**
     * Adds a host (technician and above). Creates its customer when the id is
     * new; never changes an existing customer's contact (`conflict` naming
     * the field: `cordonctl customer set-contact` does that, audited, and
     * tells the old address). A `bmc` block needs an admin (`permission`
     * otherwise: `cordonctl host set-bmc`) and is bound as SetHostBmc binds it.
     */
    async addHost(req: AddHostRequest, ctx: CallContext): Promise<HostMsg> {
      const op = operatorOf(ctx);
      const h = req.host;
      if (!h) throw new CordonError('invalid', 'a host is required', { field: 'host' });
      if (h.bmc && !roleAtLeast(op.role, 'admin')) {
        throw new CordonError(
          'permission',
          `BMC credentials are set by an admin and bound to their host; ${op.name} is ${op.role}: add the host without a BMC, then an admin runs cordonctl host set-bmc ${h.id} …`,
          { field: 'host.bmc' },
        );
      }
      const [host] = parseInventory({ hosts: [{ id: h.id, customerId: h.customerId, publicPrefixes: h.publicPrefixes, managementAddress: h.managementAddress }] });
      const bmc = h.bmc ? await bindBmc(host!.id, h.bmc, 'host.bmc') : undefined;
      const customer = await deps.store.db.transaction(async () => {
        let c = await deps.store.customers.get(host!.customerId);
        let created = false;
        if (c) {
          // Naming the contact as it stands is fine (scripts repeat it); naming another one is not.
          const email = h.customerEmail.trim();
          const name = h.customerName.trim();
          const changes = email && email !== c.email ? 'customerEmail' : name && name !== c.name ? 'customerName' : undefined;
          if (changes) {
            throw new CordonError(
              'conflict',
              `customer ${c.id} exists and adding a host never changes its contact; leave it out, or have an abuse_operator run ` +
                `cordonctl customer set-contact ${c.id} --email … --reason … (audited, and the old address is told)`,
              { field: `host.${changes}` },
            );
          }
        } else if (h.customerEmail || h.customerName) {
          c = await deps.store.customers.create({ id: host!.customerId, name: h.customerName.trim() || host!.customerId, email: checkEmailAddress(h.customerEmail, 'host.customerEmail') });
          created = true;
        }
        await deps.store.hosts.add(host!);
        if (bmc) await deps.store.bmcs.set(bmc);
        await deps.store.audit.append({
          at: deps.clock(),
          actor: op.name,
          action: 'host.add',
          subject: host!.id,
          detail: { ...host!, ...(created ? { customerCreated: { name: c!.name, email: c!.email } } : {}), ...(bmc ? { bmc: auditedBmc(bmc) } : {}) },
        });
        return c;
      });
      await deps.onHostsChanged();
      return {
        ...host!,
        agentState: AgentState.AGENT_STATE_UNSPECIFIED,
        customerName: customer?.name ?? '',
        customerEmail: customer?.email ?? '',
        bmc: bmc && toBmcMsg(bmc),
      };
    },

    /**
     * Binds a host's BMC and its password file (admin). The file must lie in
     * `bmc.credentialsDir` once symlinks are resolved (`refused` otherwise)
     * and belong to no other host (`conflict`). Audited with the previous and
     * the new settings; the password itself is never read here.
     */
    async setHostBmc(req: SetHostBmcRequest, ctx: CallContext): Promise<HostMsg> {
      const op = operatorOf(ctx);
      // authorize already asks for admin; the binding is this call's whole point, so it is not left to one place.
      if (!roleAtLeast(op.role, 'admin')) throw new CordonError('permission', `setting a BMC needs an admin; ${op.name} is ${op.role}`);
      const host = await deps.store.hosts.get(req.hostId);
      if (!host) throw new CordonError('not_found', `no host ${req.hostId}`, { field: 'hostId' });
      if (!req.bmc) throw new CordonError('invalid', 'a BMC is required', { field: 'bmc' });
      const bmc = await bindBmc(host.id, req.bmc, 'bmc');
      await deps.store.db.transaction(async () => {
        const before = await deps.store.bmcs.get(host.id);
        await deps.store.bmcs.set(bmc);
        await deps.store.audit.append({ at: deps.clock(), actor: op.name, action: 'bmc.set', subject: host.id, detail: { before: auditedBmc(before), after: auditedBmc(bmc) } });
      });
      const customer = await deps.store.customers.get(host.customerId);
      return { ...host, agentState: AgentState.AGENT_STATE_UNSPECIFIED, customerName: customer?.name ?? '', customerEmail: customer?.email ?? '', bmc: toBmcMsg(bmc) };
    },

    /**
     * Changes a customer's notice address and/or name (abuse_operator and
     * above; a reason is required). In one transaction: the change, an audit
     * entry with the operator, old and new values and the reason, and, when
     * the address changed, a mail to the OLD address saying so (the new one
     * masked) and how to object. Unchanged values change nothing.
     */
    async setCustomerContact(req: SetCustomerContactRequest, ctx: CallContext): Promise<CustomerMsg> {
      const op = operatorOf(ctx);
      if (!roleAtLeast(op.role, 'abuse_operator')) throw new CordonError('permission', `changing a customer's contact needs an abuse_operator; ${op.name} is ${op.role}`);
      if (!req.customerId) throw new CordonError('invalid', 'is required', { field: 'customerId' });
      if (!req.reason.trim()) throw new CordonError('invalid', 'a contact change needs a reason', { field: 'reason' });
      if (!req.email.trim() && !req.name.trim()) throw new CordonError('invalid', 'name the new email, the new name, or both', { field: 'email' });
      const email = req.email.trim() ? checkEmailAddress(req.email, 'email') : undefined;
      const now = deps.clock();
      return deps.store.db.transaction(async () => {
        const { before, after } = await deps.store.customers.setContact(req.customerId, { email, name: req.name });
        const emailChanged = before.email !== after.email;
        if (!emailChanged && before.name === after.name) return after;
        const reference = `ctc-${randomUUID().slice(0, 8)}`;
        await deps.store.audit.append({
          at: now,
          actor: op.name,
          action: 'customer.contact',
          subject: after.id,
          detail: { reference, before: { name: before.name, email: before.email }, after: { name: after.name, email: after.email }, reason: req.reason.trim(), mailedOld: emailChanged },
        });
        if (emailChanged) {
          const payload: ContactChangedPayload = {
            template: CONTACT_CHANGED,
            customer: before,
            change: { reference, at: now, newEmailMasked: maskEmail(after.email), ...(after.name !== before.name ? { newName: after.name } : {}) },
          };
          await deps.store.outbox.enqueue({ kind: 'mail', payload, availableAt: now });
        }
        return after;
      });
    },
  };
}

/** An observation for the wire; undefined when none was made. */
export function toObservationMsg(o: EnforcementObservation | undefined): EnforcementObservationMsg | undefined {
  return o && { observed: o.observed, reason: o.reason, since: o.since };
}

/** At most this many hosts per batched read: the fleet page shows 200. */
export const MAX_HOST_DETAILS = 1000;

/**
 * GetHost for many hosts in one batched read: seven queries whatever the
 * count (hosts, desired state in one transaction, agent reports, customers,
 * BMCs, latest BMC checks, switch ports; each per 1,000 ids), instead of
 * seven per host. Returns the details of the hosts that exist, in the order
 * asked, each exactly as `getHost` would return it; unknown ids are left out.
 * `invalid` naming `ids` beyond MAX_HOST_DETAILS.
 */
export async function readHostDetails(deps: Pick<HostDeskDeps, 'store' | 'agentConnected' | 'observe'>, ids: readonly string[]): Promise<HostDetail[]> {
  if (ids.length > MAX_HOST_DETAILS) throw new CordonError('invalid', `at most ${MAX_HOST_DETAILS} hosts at once, got ${ids.length}`, { field: 'ids' });
  const store = deps.store;
  const hosts = await store.hosts.getMany([...new Set(ids)]);
  if (hosts.length === 0) return [];
  const hostIds = hosts.map((h) => h.id);
  const customerIds = [...new Set(hosts.map((h) => h.customerId))];
  const [desired, statuses, customers, bmcs, checks, ports] = await Promise.all([
    store.desired.getMany(hostIds),
    store.desired.statusMany(hostIds),
    store.customers.getMany(customerIds),
    store.bmcs.getMany(hostIds),
    store.bmcs.latestForHosts(hostIds),
    store.switches.getMany(hostIds),
  ]);
  // From what was just read: the page of 200 hosts costs no query more.
  const observed = deps.observe ? await deps.observe(hostIds, { desired, status: statuses, ports }) : new Map<string, EnforcementObservation>();
  const customerOf = new Map(customers.map((c) => [c.id, c]));
  const bmcOf = new Map(bmcs.map((b) => [b.hostId, b]));
  const byId = new Map(hosts.map((host) => [host.id, host]));
  const out: HostDetail[] = [];
  for (const id of ids) {
    const host = byId.get(id);
    if (!host) continue;
    byId.delete(id); // an id asked twice is answered once
    const want = desired.get(host.id)!;
    const status = statuses.get(host.id);
    const customer = customerOf.get(host.customerId);
    const bmc = bmcOf.get(host.id);
    const check = checks.get(host.id);
    const port = ports.get(host.id);
    const dispatch =
      want.generation === 0 || (status?.status === 'applied' && status.appliedGeneration === want.generation)
        ? DispatchStatus.DISPATCH_STATUS_APPLIED
        : !deps.agentConnected(host.id)
          ? DispatchStatus.DISPATCH_STATUS_UNREACHABLE
          : status?.status === 'failed'
            ? DispatchStatus.DISPATCH_STATUS_FAILED
            : DispatchStatus.DISPATCH_STATUS_PENDING;
    out.push({
      host: { ...host, agentState: AgentState.AGENT_STATE_UNSPECIFIED, customerName: customer?.name ?? '', customerEmail: customer?.email ?? '', bmc: bmc && toBmcMsg(bmc) },
      generation: BigInt(want.generation),
      enforcements: want.enforcements.map((e) => toProtoEnforcement(e, [])),
      dispatch,
      appliedGeneration: BigInt(status?.appliedGeneration ?? 0),
      dispatchError: status?.error ?? '',
      lastBmcCheck: check && {
        hostId: host.id,
        reachable: check.reachable,
        sol: check.sol,
        checkedAt: check.checkedAt,
        durationMs: Math.round(check.durationMs),
        error: check.error ?? '',
        errorKind: '',
        attempts: 0,
        details: {},
      },
      // Where the port is and whether Cordon holds it down; the SSH key and host key stay on the controller.
      switchPort: port && {
        switchId: port.target.switchId,
        address: port.target.address,
        vendor: port.target.vendor,
        hostPort: port.target.hostPort,
        portDown: port.portDown,
        reason: port.reason ?? '',
        changedAt: port.changedAt,
        confirmedAt: port.confirmedAt,
        failureKind: port.failure?.kind ?? '',
        failure: port.failure?.error ?? '',
        failureSince: port.failure?.since,
      },
      observed: toObservationMsg(observed.get(host.id)),
    });
  }
  return out;
}
