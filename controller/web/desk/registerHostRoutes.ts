import type { FastifyInstance } from 'fastify';
import type { AgentSession, Host, HostDetail } from '../../../proto/gen/cordon/v1/desk.js';
import { CordonError } from '../../../proto/runtime/CordonError.js';
import { cidrContains, cidrCovers, parseCidr, type Cidr } from '../../../proto/runtime/cidr.js';
import type { Csrf } from '../customer/csrf.js';
import type { DeskAccess } from './DeskAccess.js';
import { deskLayout } from './deskLayout.js';
import { formField, type DeskReplies } from './deskReplies.js';
import { hostActions, hostNotice } from './hostActions.js';
import { deskTimeOf } from './deskTime.js';
import { fleetView, hostView, type FleetClocks, type FleetRow } from './hostsView.js';
import type { HostSecurity } from './securitySection.js';
import type { DeskHandlers } from './registerDeskRoutes.js';

/** What the fleet page reads beyond DeskService's calls (the contract has no batched GetHost and no drift count). */
export interface FleetReads {
  /** GetHost for many hosts in a handful of queries (hostDesk's readHostDetails); unknown ids are left out. */
  details(ids: readonly string[]): Promise<HostDetail[]>;
  /** The agent's drift repairs since it started, as its last report counted them (SessionRegistry). */
  driftRepairs(hostId: string): bigint | undefined;
  /** Managed security on the host (bans in force, new sockets not accepted); absent when the controller runs none. */
  security?(hostId: string): Promise<HostSecurity>;
}

export interface HostRoutesDeps {
  handlers: Pick<DeskHandlers, 'listHosts' | 'listAgents' | 'getHost' | 'getIncident' | 'getClock' | 'checkBmc'>;
  fleet: FleetReads;
  access: DeskAccess;
  csrf: Csrf;
  replies: DeskReplies;
  /** The wall clock agents' sessions are kept in, for heartbeat ages. */
  now?: () => Date;
}

/** A search is one short term; a longer one is refused rather than cut. */
export const MAX_HOST_QUERY_CHARS = 200;
/** The fleet page shows at most this many hosts (read in one batch); past this it asks for a search. */
export const MAX_FLEET_ROWS = 200;

/**
 * Which hosts a search term names: an address (the hosts whose prefix holds
 * it), a prefix (hosts whose prefixes overlap it), a host id, a customer id,
 * or an incident id (its host, via GetIncident). Unknown terms find nothing.
 */
async function matchHosts(hosts: Host[], q: string, getIncident: HostRoutesDeps['handlers']['getIncident']): Promise<Host[]> {
  let cidr: Cidr | undefined;
  try {
    cidr = parseCidr(q);
  } catch {
    cidr = undefined;
  }
  if (cidr) {
    const c = cidr;
    const isAddress = !q.includes('/');
    return hosts.filter((h) =>
      h.publicPrefixes.some((p) => {
        const prefix = parseCidr(p);
        return isAddress ? cidrContains(prefix, q.trim()) : cidrCovers(prefix, c) || cidrCovers(c, prefix);
      }),
    );
  }
  const direct = hosts.filter((h) => h.id === q || h.customerId === q);
  if (direct.length > 0) return direct;
  try {
    const hostId = (await getIncident({ id: q })).incident?.hostId;
    return hosts.filter((h) => h.id === hostId);
  } catch (err) {
    if (err instanceof CordonError && (err.kind === 'not_found' || err.kind === 'invalid')) return [];
    throw err;
  }
}

/**
 * GET /hosts (with ?q= to search) and GET /hosts/:id: the fleet through the
 * handlers the CLI's `hosts`, `agents` and `host show` call (ListHosts,
 * ListAgents, GetHost, GetClock), each admitted under that method's role.
 * The list reads the shown hosts' details in one batch (FleetReads), so a
 * page of 200 hosts is a handful of queries, not seven per host.
 * POST /hosts/:id/check-bmc is the one host action (CheckBmc, technician
 * and up), through the same handler as `cordonctl host bmc-check`.
 */
export function registerHostRoutes(app: FastifyInstance, d: HostRoutesDeps): void {
  const now = d.now ?? (() => new Date());
  /** Both clocks, read once per page: ages of sessions on the wall clock, of BMC checks on the incident clock. */
  const clocks = async (): Promise<FleetClocks> => {
    const wall = now();
    return { wall, incident: deskTimeOf(await d.handlers.getClock(), wall) };
  };
  const rowsFor = async (hosts: Host[], agents: AgentSession[]): Promise<FleetRow[]> => {
    const byHost = new Map(agents.map((a) => [a.hostId, a]));
    const details = new Map((await d.fleet.details(hosts.map((h) => h.id))).map((x) => [x.host!.id, x]));
    // A host removed between the listing and the read is left out rather than failing the page.
    return hosts.flatMap((host) => {
      const detail = details.get(host.id);
      return detail ? [{ host, agent: byHost.get(host.id), detail, driftRepairs: d.fleet.driftRepairs(host.id) }] : [];
    });
  };

  app.get<{ Querystring: { q?: unknown } }>('/hosts', async (request, reply) => {
    try {
      const op = d.access.admit(request, 'DeskService/ListHosts');
      d.access.admit(request, 'DeskService/ListAgents');
      d.access.admit(request, 'DeskService/GetHost');
      d.access.admit(request, 'DeskService/GetClock');
      const raw = request.query.q;
      if (raw !== undefined && typeof raw !== 'string') throw new CordonError('invalid', 'q: one search term, given once', { field: 'q' });
      const q = (raw ?? '').trim();
      if (q.length > MAX_HOST_QUERY_CHARS) throw new CordonError('invalid', `q: at most ${MAX_HOST_QUERY_CHARS} characters, got ${q.length}`, { field: 'q' });
      const [{ hosts }, { agents }] = await Promise.all([d.handlers.listHosts(), d.handlers.listAgents()]);
      const found = q ? await matchHosts(hosts, q, d.handlers.getIncident) : hosts;
      const shown = found.slice(0, MAX_FLEET_ROWS);
      const [rows, times] = await Promise.all([rowsFor(shown, agents), clocks()]);
      return reply.type('text/html; charset=utf-8').send(deskLayout('Hosts', op, fleetView(rows, q, times, found.length - shown.length)));
    } catch (err) {
      return d.replies.refuse(reply, err, '/hosts');
    }
  });

  app.get<{ Params: { id: string }; Querystring: { checked?: unknown } }>('/hosts/:id', async (request, reply) => {
    try {
      const op = d.access.admit(request, 'DeskService/GetHost');
      d.access.admit(request, 'DeskService/ListAgents');
      d.access.admit(request, 'DeskService/GetClock');
      const id = request.params.id;
      const [detail, { agents }, times] = await Promise.all([d.handlers.getHost({ id }), d.handlers.listAgents(), clocks()]);
      // After GetHost: an unknown host is refused before anything is read of it.
      const security = d.fleet.security ? await d.fleet.security(id) : undefined;
      const host = detail.host!;
      const row: FleetRow = { host, agent: agents.find((a) => a.hostId === id), detail, driftRepairs: d.fleet.driftRepairs(id) };
      const checkBmc = d.access.may(op, 'DeskService/CheckBmc');
      // A nonce (and its cookie) only for an operator who gets a form.
      const actions = checkBmc ? hostActions(host, { checkBmc }, d.csrf.field(op.fingerprint, d.replies.nonceFor(request, reply))) : undefined;
      return reply.type('text/html; charset=utf-8').send(deskLayout(`Host ${id}`, op, hostView(row, times, security), { notice: hostNotice(request.query), actions }));
    } catch (err) {
      return d.replies.refuse(reply, err, '/hosts');
    }
  });

  app.post<{ Params: { id: string } }>('/hosts/:id/check-bmc', async (request, reply) => {
    const back = `/hosts/${encodeURIComponent(request.params.id)}`;
    try {
      const op = d.access.admit(request, 'DeskService/CheckBmc');
      d.replies.checkForm(request, op, formField(request.body, 'csrf'));
      // The handler runs the check, records it (the host's last_bmc_check) and audits it as the operator.
      await d.handlers.checkBmc({ id: request.params.id }, d.access.context(request, op));
      // The result is not carried in the URL: the host page re-reads the recorded check, so a link cannot show a made-up one.
      return reply.code(303).header('location', `${back}?checked=1`).send();
    } catch (err) {
      return d.replies.refuse(reply, err, back);
    }
  });
}
