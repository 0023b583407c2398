/**
 * What the controller has SEEN of a host's enforcement, as opposed to what it
 * decided. A restriction counts as in force only when the host's agent
 * reported the current generation applied (and is still heard from, and not
 * being tampered with), or, for a cut, when the switch read back the host's
 * port shut. Pure: the caller gathers the facts and passes `now`.
 */

export const OBSERVED_ENFORCEMENTS = [
  'none', // nothing decided, and nothing left to lift
  'confirmed', // the agent confirmed the current generation (and the switch too, when it holds the port)
  'switch_only', // a cut held by the switch alone: the agent does not confirm it
  'unconfirmed', // a restriction decided that neither the agent nor the switch confirms
  'lifting', // nothing decided any more, but the lift is not confirmed (agent silent, port still shut)
] as const;
export type ObservedEnforcement = (typeof OBSERVED_ENFORCEMENTS)[number];

export interface EnforcementFacts {
  /** The host's desired state: its generation, when it was set, what it holds. */
  generation: number;
  issuedAt: Date | undefined;
  /** Any action decided (SMTP block, throttle, cut). */
  restricts: boolean;
  /** A cut (isolate, NIC down) decided: the only kind the switch can hold. */
  cuts: boolean;
  /** The agent's last report as stored. */
  report: { status: 'pending' | 'applied' | 'failed' | 'unreachable'; appliedGeneration: number | undefined; error: string | undefined; at: Date } | undefined;
  /** The agent's link: undefined when never seen since this controller (fleet) started. */
  link:
    | { state: 'connected' | 'stale' | 'disconnected'; connectedSince: Date; lastHeartbeat: Date; disconnectedAt: Date | undefined; disconnectReason: string }
    | undefined;
  /** When the controller started watching (a never-seen agent is silent since then). */
  watchingSince: Date;
  /** Tamper reports from the agent within the fallback's window, oldest first, and the threshold that hands a cut to the switch. */
  tampers: { at: Date[]; threshold: number };
  /** The host's switch port, when the inventory names one and the fallback runs. */
  port:
    | { down: boolean; changedAt: Date | undefined; confirmedAt: Date | undefined; failure: { kind: string; error: string; since: Date } | undefined }
    | undefined;
}

export interface EnforcementObservation {
  observed: ObservedEnforcement;
  /** Since when this observation holds (the best fact the controller has). */
  since: Date | undefined;
  /** In words, for the desk: what confirms it or why nothing does. */
  reason: string;
}

const iso = (d: Date) => d.toISOString();

/** Why the agent does not vouch for the current generation, or undefined when it does. */
function agentDoubt(f: EnforcementFacts): { reason: string; since: Date | undefined } | undefined {
  const l = f.link;
  if (!l) return { reason: `agent not heard from since the controller started (${iso(f.watchingSince)})`, since: f.watchingSince };
  if (l.state === 'disconnected') {
    const at = l.disconnectedAt ?? l.lastHeartbeat;
    return { reason: `agent disconnected since ${iso(at)}${l.disconnectReason ? ` (${l.disconnectReason})` : ''}`, since: at };
  }
  if (l.state === 'stale') return { reason: `agent silent since ${iso(l.lastHeartbeat)} (heartbeats missing)`, since: l.lastHeartbeat };
  if (f.tampers.at.length >= f.tampers.threshold && f.tampers.threshold > 0) {
    return { reason: `agent reported tampering ${f.tampers.at.length} times, last at ${iso(f.tampers.at.at(-1)!)}`, since: f.tampers.at[0] };
  }
  const r = f.report;
  if (!r) return { reason: `agent has not reported generation ${f.generation} yet`, since: f.issuedAt };
  if (r.status === 'failed') return { reason: `agent failed to apply: ${r.error ?? 'no detail'}`, since: r.at };
  if (r.status !== 'applied' || r.appliedGeneration !== f.generation) {
    return { reason: `agent holds generation ${r.appliedGeneration ?? 'none'}, not ${f.generation}`, since: f.issuedAt };
  }
  // A report from before the current stream counts only once the agent repeats it on this one.
  if (r.at.getTime() < l.connectedSince.getTime()) return { reason: `agent reconnected at ${iso(l.connectedSince)} and has not reported since`, since: l.connectedSince };
  return undefined;
}

function portWords(f: EnforcementFacts): string {
  const p = f.port;
  if (!p) return 'no switch port to fall back on';
  if (p.failure) return `switch failing since ${iso(p.failure.since)} (${p.failure.kind}: ${p.failure.error})`;
  return p.down ? 'switch port shut but not confirmed' : 'switch port open';
}

/**
 * The host's enforcement as observed. `confirmed` needs the agent's report
 * of the current generation on its current link, no run of tamper reports,
 * and (when Cordon holds the port shut) the switch's read-back; `switch_only`
 * a cut whose port the switch confirmed shut while the agent does not vouch.
 * A lift is done (`none`) only when the agent confirmed it and no port is
 * held shut; otherwise it is `lifting`.
 */
export function observeEnforcement(f: EnforcementFacts): EnforcementObservation {
  const doubt = agentDoubt(f);
  const p = f.port;
  const portConfirmedDown = p !== undefined && p.down && p.failure === undefined && p.confirmedAt !== undefined;
  if (f.restricts) {
    if (!doubt) {
      return { observed: 'confirmed', since: f.report?.at, reason: `agent confirmed generation ${f.generation}${portConfirmedDown ? '; switch port shut too' : ''}` };
    }
    if (f.cuts && portConfirmedDown) {
      return { observed: 'switch_only', since: p.changedAt, reason: `switch port shut (confirmed ${iso(p.confirmedAt!)}); ${doubt.reason}` };
    }
    return { observed: 'unconfirmed', since: doubt.since, reason: `${doubt.reason}; ${f.cuts ? portWords(f) : 'the switch cannot hold this restriction'}` };
  }
  if (f.generation === 0) return { observed: 'none', since: undefined, reason: 'nothing decided' };
  if (p?.down) {
    return { observed: 'lifting', since: p.changedAt, reason: `switch port still shut${p.failure ? `: ${portWords(f)}` : ' (reopening)'}${doubt ? `; ${doubt.reason}` : ''}` };
  }
  if (doubt) return { observed: 'lifting', since: doubt.since, reason: `lift not confirmed: ${doubt.reason}` };
  return { observed: 'none', since: f.report?.at, reason: `agent confirmed generation ${f.generation} with nothing in force` };
}
