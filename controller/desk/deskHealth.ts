import { INCIDENT_STATES, TERMINAL_STATES, type IncidentState } from '../incidents/model.js';
import type { Store } from '../store/Store.js';

const HOUR = 3_600_000;

/** The reversal rate's window, in days of the incident clock. */
export const REVERSAL_WINDOW_DAYS = 30;
/** "Deadlines due soon" looks this far ahead on the incident clock. */
export const DEADLINE_HORIZON_HOURS = 24;
/** Every state but closed and dismissed: `released` still waits for the host to confirm the lift. */
export const OPEN_STATES: readonly IncidentState[] = INCIDENT_STATES.filter((s) => !TERMINAL_STATES.includes(s));

/** Restrictions applied and reversed within the window, in distinct incidents. */
export interface ReversalFigures {
  since: Date;
  until: Date;
  /** Incidents that began restricting their host in the window (entered `enforcing` holding nothing before). */
  applied: number;
  /** Appeals accepted: `operator_accept_dispute` while `appealed`, which lifts what the incident held. */
  appealsAccepted: number;
  /** Dismissed by an operator while holding actions (`operator_dismiss` from enforcing, enforced, release_requested or appealed). */
  dismissed: number;
  /** appealsAccepted + dismissed (an incident ends once, so none counts twice). */
  reversed: number;
  /** reversed / applied; undefined when nothing was applied in the window. May exceed 1 (see reversalRatio). */
  ratio: number | undefined;
}

/** What the desk's health page shows; every figure read at `at` on the incident clock. */
export interface DeskHealth {
  at: Date;
  /** Open incidents per state, every open state present (0 when none). */
  openIncidents: Record<string, number>;
  restrictions: {
    /** Hosts carrying at least one enforcement through their agent. */
    hosts: number;
    /** Hosts carrying each action kind (a host with two kinds counts under both). */
    byKind: Record<string, number>;
    /** Hosts whose switch port Cordon holds down (the fallback when the agent is gone). */
    switchPortsDown: number;
  };
  /** Incidents whose next deadline falls within DEADLINE_HORIZON_HOURS (or has passed and not fired yet). */
  deadlinesDueSoon: number;
  /** Complaints no incident took that wait for an operator: `needs_info` and `held`. */
  complaintsWaiting: { needsInfo: number; held: number };
  reversal: ReversalFigures;
}

/**
 * The reversal rate: restrictions lifted because they should not have been
 * imposed, over restrictions imposed, both counted by when they happened
 * within the same window. Undefined with nothing applied (no rate to speak
 * of). It can exceed 1 in a quiet window when restrictions applied before it
 * are reversed within it: a flow, not a cohort, so it moves the day a desk
 * reverses, not 30 days later.
 */
export function reversalRatio(applied: number, reversed: number): number | undefined {
  return applied > 0 ? reversed / applied : undefined;
}

/**
 * The reversal figures for the REVERSAL_WINDOW_DAYS before `now`:
 * [now − 30 days, now). Reads only that window's incident events
 * (EventsRepo.restrictionFlow), so its cost follows the desk's recent
 * activity, not the length of its history.
 */
export async function readReversal(store: Store, now: Date): Promise<ReversalFigures> {
  const since = new Date(now.getTime() - REVERSAL_WINDOW_DAYS * 24 * HOUR);
  const flow = await store.events.restrictionFlow(since, now);
  const reversed = flow.appealsAccepted + flow.dismissed;
  return { since, until: now, ...flow, reversed, ratio: reversalRatio(flow.applied, reversed) };
}

/**
 * The desk's health at `now` (the incident clock: drill aware when the
 * controller runs one). Read-only; each figure is one bounded query over an
 * index or over what is in force now, so it is cheap enough to compute per
 * page view and per scrape. The figures are read one after another, not in
 * one snapshot: a change in between may show in one and not yet in another.
 */
export async function readDeskHealth(store: Store, now: Date): Promise<DeskHealth> {
  const byState = await store.incidents.countByState(OPEN_STATES);
  const restricted = await store.desired.restrictedHosts();
  const switchPortsDown = await store.switches.countPortsDown();
  const deadlinesDueSoon = await store.incidents.countDueBy(new Date(now.getTime() + DEADLINE_HORIZON_HOURS * HOUR));
  const waiting = await store.complaints.countByStatus(['needs_info', 'held']);
  return {
    at: now,
    openIncidents: Object.fromEntries(OPEN_STATES.map((s) => [s, byState.get(s) ?? 0])),
    restrictions: { hosts: restricted.hosts, byKind: Object.fromEntries(restricted.byKind), switchPortsDown },
    deadlinesDueSoon,
    complaintsWaiting: { needsInfo: waiting.get('needs_info') ?? 0, held: waiting.get('held') ?? 0 },
    reversal: await readReversal(store, now),
  };
}
