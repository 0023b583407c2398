import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Report } from '../../proto/gen/cordon/v1/agent.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { parseAddress } from '../../proto/runtime/address.js';
import type { AgentSessions } from '../agents/SessionRegistry.js';
import { DEADLINE_HORIZON_HOURS, readReversal, type ReversalFigures } from '../desk/deskHealth.js';
import type { Store } from '../store/Store.js';
import type { ObservedEnforcement } from '../incidents/observeEnforcement.js';

/** What EnforcementObserver.counts returns: hosts per observed state, and the oldest unconfirmed one's since. */
export interface ObservedCounts {
  byState: Record<ObservedEnforcement, number>;
  oldestUnconfirmed: Date | undefined;
}

export interface Metrics {
  registry: Registry;
  /** Seconds from a desired state's generation to the agent reporting it applied. */
  dispatch: Histogram<string>;
  /** Takes what an agent says about itself in a report: apply latency, drift repairs. */
  observeReport(hostId: string, report: Report): void;
}

/**
 * The controller's Prometheus metrics. Gauges are read from the store and the
 * session table at scrape time, so they are never stale and cost nothing
 * between scrapes; only dispatch latency is observed as it happens.
 */
export function createMetrics(store: Store, sessions: AgentSessions, now: () => Date, observed?: () => Promise<ObservedCounts>): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'cordon_controller_' });
  const rows = <T>(sql: string, params: (string | number)[] = []) => store.db.all<T>(sql, params);

  new Gauge({
    name: 'cordon_agents',
    help: 'Agent sessions by state.',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const counts = { connected: 0, stale: 0, disconnected: 0 };
      for (const s of sessions.list()) counts[s.state]++;
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'cordon_incidents',
    help: 'Incidents by state.',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await rows<{ state: string; n: number }>('SELECT state, COUNT(*) AS n FROM incidents GROUP BY state')) this.set({ state: r.state }, r.n);
    },
  });
  new Gauge({
    name: 'cordon_deadlines_due_next_hour',
    help: 'Incidents whose next deadline falls within the next hour.',
    registers: [registry],
    async collect() {
      const t = now().getTime();
      const [r] = await rows<{ n: number }>('SELECT COUNT(*) AS n FROM incidents WHERE next_due_at IS NOT NULL AND next_due_at <= ?', [t + 3_600_000]);
      this.set(r?.n ?? 0);
    },
  });
  new Gauge({
    name: 'cordon_enforcements',
    help: 'Actions decided by kind (path agent), and switch ports Cordon holds shut (path switch); what is confirmed in force is cordon_hosts_enforcement_observed.',
    labelNames: ['kind', 'path'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await rows<{ kind: string; n: number }>('SELECT kind, COUNT(*) AS n FROM enforcements GROUP BY kind')) this.set({ kind: r.kind, path: 'agent' }, r.n);
      const [sw] = await rows<{ n: number }>('SELECT COUNT(*) AS n FROM host_switches WHERE port_down = 1');
      this.set({ kind: 'switch_port_down', path: 'switch' }, sw?.n ?? 0);
    },
  });
  if (observed) {
    // One observation per scrape feeds the three gauges: the first collect reads it, the others reuse it.
    let pending: Promise<ObservedCounts> | undefined;
    const read = () => (pending ??= observed().finally(() => setTimeout(() => (pending = undefined), 0)));
    new Gauge({
      name: 'cordon_hosts_enforcement_observed',
      help: 'Hosts with a desired state by what the controller has seen of it: confirmed (agent), switch_only (a cut the switch holds, the agent does not confirm), unconfirmed (decided, confirmed by neither), lifting (lifted, not confirmed).',
      labelNames: ['observed'],
      registers: [registry],
      async collect() {
        const c = await read();
        for (const o of ['confirmed', 'switch_only', 'unconfirmed', 'lifting'] as const) this.set({ observed: o }, c.byState[o]);
      },
    });
    new Gauge({
      name: 'cordon_hosts_restriction_unconfirmed',
      help: 'Hosts that should be restricted (cut, throttled, SMTP-blocked) and that neither their agent nor the switch confirms now.',
      registers: [registry],
      async collect() {
        this.set((await read()).byState.unconfirmed);
      },
    });
    new Gauge({
      name: 'cordon_hosts_cut_switch_only',
      help: 'Hosts cut only at the switch: the switch confirmed the port shut, the agent does not confirm the cut.',
      registers: [registry],
      async collect() {
        this.set((await read()).byState.switch_only);
      },
    });
    new Gauge({
      name: 'cordon_hosts_unconfirmed_oldest_seconds',
      help: 'How long the longest-waiting unconfirmed restriction or lift has waited (0 when none).',
      registers: [registry],
      async collect() {
        const oldest = (await read()).oldestUnconfirmed;
        this.set(oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0);
      },
    });
  }
  new Gauge({
    name: 'cordon_bmc_last_check',
    help: "Hosts by the result of their BMC's latest check.",
    labelNames: ['result'],
    registers: [registry],
    async collect() {
      this.reset();
      const latest = await rows<{ reachable: number; n: number }>(
        `SELECT reachable, COUNT(*) AS n FROM bmc_checks c
         WHERE c.id = (SELECT id FROM bmc_checks d WHERE d.host_id = c.host_id ORDER BY at DESC, id DESC LIMIT 1)
         GROUP BY reachable`,
      );
      for (const r of latest) this.set({ result: r.reachable ? 'reachable' : 'unreachable' }, r.n);
    },
  });
  new Gauge({
    name: 'cordon_outbox_backlog',
    help: 'Outbox rows not yet delivered, by kind (mail, bmc_check) and status.',
    labelNames: ['kind', 'status'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const r of await rows<{ kind: string; status: string; n: number }>("SELECT kind, status, COUNT(*) AS n FROM outbox WHERE status IN ('pending', 'in_flight', 'dead') GROUP BY kind, status")) {
        this.set({ kind: r.kind, status: r.status }, r.n);
      }
    },
  });
  // The desk's health (desk/deskHealth.ts): the same figures the desk page shows.
  // The reversal gauges share one read per scrape rather than one each.
  let reversal: { at: number; figures: Promise<ReversalFigures> } | undefined;
  const reversalNow = () => {
    if (!reversal || Date.now() - reversal.at > 1000) reversal = { at: Date.now(), figures: readReversal(store, now()) };
    return reversal.figures;
  };
  new Gauge({
    name: 'cordon_restriction_reversal_ratio_30d',
    help:
      'Restrictions reversed in the last 30 days (appeal accepted, or dismissed while holding actions) over restrictions applied in them; NaN when none was applied.',
    registers: [registry],
    async collect() {
      this.set((await reversalNow()).ratio ?? Number.NaN);
    },
  });
  new Gauge({
    name: 'cordon_restrictions_30d',
    help: 'Incidents in the last 30 days by outcome: applied (began restricting), appeal_accepted, dismissed (while holding actions).',
    labelNames: ['outcome'],
    registers: [registry],
    async collect() {
      const f = await reversalNow();
      this.set({ outcome: 'applied' }, f.applied);
      this.set({ outcome: 'appeal_accepted' }, f.appealsAccepted);
      this.set({ outcome: 'dismissed' }, f.dismissed);
    },
  });
  new Gauge({
    name: 'cordon_hosts_restricted',
    help: 'Hosts carrying at least one enforcement through their agent now.',
    registers: [registry],
    async collect() {
      this.set((await store.desired.restrictedHosts()).hosts);
    },
  });
  new Gauge({
    name: 'cordon_deadlines_due_next_24h',
    help: `Incidents whose next deadline falls within the next ${DEADLINE_HORIZON_HOURS} hours of the incident clock.`,
    registers: [registry],
    async collect() {
      this.set(await store.incidents.countDueBy(new Date(now().getTime() + DEADLINE_HORIZON_HOURS * 3_600_000)));
    },
  });
  new Gauge({
    name: 'cordon_complaints_waiting',
    help: 'Complaints no incident took that wait for an operator, by status (needs_info, held).',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const n = await store.complaints.countByStatus(['needs_info', 'held']);
      this.set({ status: 'needs_info' }, n.get('needs_info') ?? 0);
      this.set({ status: 'held' }, n.get('held') ?? 0);
    },
  });
  const dispatch = new Histogram({
    name: 'cordon_dispatch_seconds',
    help: 'From a new desired state to the agent reporting it applied.',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const agentApply = new Histogram({
    name: 'cordon_agent_apply_seconds',
    help: 'How long agents took to converge to a desired state (nft, tc, ip link, verified), as they report it.',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const driftRepairs = new Counter({
    name: 'cordon_agent_drift_repairs_total',
    help: 'Times an agent found what Cordon enforces changed on its host and put it back (per host: cordonctl agents, logs).',
    registers: [registry],
  });
  // Agents report a count since their own start: the counter takes the
  // increase, and a count that went down means the agent restarted.
  const lastRepairs = new Map<string, bigint>();
  const observeReport = (hostId: string, report: Report) => {
    if (report.applyMs) agentApply.observe(report.applyMs / 1000);
    if (report.driftRepairs === undefined) return;
    const before = lastRepairs.get(hostId);
    const delta = before === undefined || report.driftRepairs < before ? (before === undefined ? 0n : report.driftRepairs) : report.driftRepairs - before;
    lastRepairs.set(hostId, report.driftRepairs);
    if (delta > 0n) driftRepairs.inc(Number(delta));
  };
  return { registry, dispatch, observeReport };
}

/** Serves GET /metrics on `listen` (host:port); resolves with the bound port. */
export async function serveMetrics(metrics: Metrics, listen: string): Promise<{ port: number; server: Server }> {
  const { host, port } = parseAddress(listen);
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404).end('not found\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(`metrics failed: ${(err as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new CordonError('transient', `cannot listen on ${listen}: ${err.message}`, { field: 'metrics.listen' })));
    server.listen(port, host, () => resolve());
  });
  return { port: (server.address() as { port: number }).port, server };
}
