import type { FastifyInstance } from 'fastify';
import type { AgentSession, Host } from '../../../proto/gen/cordon/v1/desk.js';
import { CordonError } from '../../../proto/runtime/CordonError.js';
import { cidrContains, cidrCovers, parseCidr, type Cidr } from '../../../proto/runtime/cidr.js';
import type { DeskAccess } from './DeskAccess.js';
import { deskLayout } from './deskLayout.js';
import type { DeskReplies } from './deskReplies.js';
import { fleetView, hostView, type FleetRow } from './hostsView.js';
import type { DeskHandlers } from './registerDeskRoutes.js';

export interface HostRoutesDeps {
  handlers: Pick<DeskHandlers, 'listHosts' | 'listAgents' | 'getHost' | 'getIncident'>;
  access: DeskAccess;
  replies: DeskReplies;
  /** Now for heartbeat ages: the wall clock agents' sessions are kept in. */
  now?: () => Date;
}

/** A search is one short term; a longer one is refused rather than cut. */
export const MAX_HOST_QUERY_CHARS = 200;
/** The fleet page reads each shown host's desired state (GetHost); past this it asks for a search. */
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
 * ListAgents, GetHost), each admitted under that method's role.
 */
export function registerHostRoutes(app: FastifyInstance, d: HostRoutesDeps): void {
  const now = d.now ?? (() => new Date());
  const rowsFor = async (hosts: Host[], agents: AgentSession[]): Promise<FleetRow[]> => {
    const byHost = new Map(agents.map((a) => [a.hostId, a]));
    return Promise.all(hosts.map(async (host) => ({ host, agent: byHost.get(host.id), detail: await d.handlers.getHost({ id: host.id }) })));
  };

  app.get<{ Querystring: { q?: unknown } }>('/hosts', async (request, reply) => {
    try {
      const op = d.access.admit(request, 'DeskService/ListHosts');
      d.access.admit(request, 'DeskService/ListAgents');
      d.access.admit(request, 'DeskService/GetHost');
      const raw = request.query.q;
      if (raw !== undefined && typeof raw !== 'string') throw new CordonError('invalid', 'q: one search term, given once', { field: 'q' });
      const q = (raw ?? '').trim();
      if (q.length > MAX_HOST_QUERY_CHARS) throw new CordonError('invalid', `q: at most ${MAX_HOST_QUERY_CHARS} characters, got ${q.length}`, { field: 'q' });
      const [{ hosts }, { agents }] = await Promise.all([d.handlers.listHosts(), d.handlers.listAgents()]);
      const found = q ? await matchHosts(hosts, q, d.handlers.getIncident) : hosts;
      const shown = found.slice(0, MAX_FLEET_ROWS);
      const rows = await rowsFor(shown, agents);
      return reply.type('text/html; charset=utf-8').send(deskLayout('Hosts', op, fleetView(rows, q, now(), found.length - shown.length)));
    } catch (err) {
      return d.replies.refuse(reply, err, '/hosts');
    }
  });

  app.get<{ Params: { id: string } }>('/hosts/:id', async (request, reply) => {
    try {
      const op = d.access.admit(request, 'DeskService/GetHost');
      d.access.admit(request, 'DeskService/ListAgents');
      const id = request.params.id;
      const [detail, { agents }] = await Promise.all([d.handlers.getHost({ id }), d.handlers.listAgents()]);
      const host = detail.host!;
      const row: FleetRow = { host, agent: agents.find((a) => a.hostId === id), detail };
      return reply.type('text/html; charset=utf-8').send(deskLayout(`Host ${id}`, op, hostView(row, now())));
    } catch (err) {
      return d.replies.refuse(reply, err, '/hosts');
    }
  });
}
