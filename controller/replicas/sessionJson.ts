import type { AgentConnectionState, AgentSessionView } from '../agents/SessionRegistry.js';

/** An agent session as another replica stores it: numbers and strings only (bigints as decimal strings, times as epoch ms). */
export function sessionToJson(s: AgentSessionView): string {
  return JSON.stringify({
    state: s.state,
    agentVersion: s.agentVersion,
    connectedSince: s.connectedSince.getTime(),
    lastHeartbeat: s.lastHeartbeat.getTime(),
    disconnectedAt: s.disconnectedAt?.getTime() ?? null,
    disconnectReason: s.disconnectReason,
    generationHeld: s.generationHeld.toString(),
    observedDigest: s.observedDigest,
    peerAddress: s.peerAddress,
    interfaces: s.interfaces,
    heartbeatIntervalMs: s.heartbeatIntervalMs,
    lastRttMs: s.lastRttMs ?? null,
    certificateSerial: s.certificateSerial,
    driftRepairs: s.driftRepairs?.toString() ?? null,
  });
}

const STATES: readonly AgentConnectionState[] = ['connected', 'stale', 'disconnected'];

/**
 * The session another replica stored, or undefined when the row does not
 * read as one (a replica of another build, say): such a host then shows as
 * never seen by this replica rather than with made-up fields.
 */
export function sessionFromJson(hostId: string, text: string): AgentSessionView | undefined {
  try {
    const j = JSON.parse(text) as Record<string, unknown>;
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const state = STATES.find((s) => s === j.state);
    const connectedSince = num(j.connectedSince);
    const lastHeartbeat = num(j.lastHeartbeat);
    const generationHeld = str(j.generationHeld);
    if (!state || connectedSince === undefined || lastHeartbeat === undefined || generationHeld === undefined || !/^\d+$/.test(generationHeld)) return undefined;
    const drift = str(j.driftRepairs);
    const disconnectedAt = num(j.disconnectedAt);
    return {
      hostId,
      state,
      agentVersion: str(j.agentVersion) ?? '',
      connectedSince: new Date(connectedSince),
      lastHeartbeat: new Date(lastHeartbeat),
      disconnectedAt: disconnectedAt === undefined ? undefined : new Date(disconnectedAt),
      disconnectReason: str(j.disconnectReason) ?? '',
      generationHeld: BigInt(generationHeld),
      observedDigest: str(j.observedDigest) ?? '',
      peerAddress: str(j.peerAddress) ?? '',
      interfaces: Array.isArray(j.interfaces) ? (j.interfaces as AgentSessionView['interfaces']) : [],
      heartbeatIntervalMs: num(j.heartbeatIntervalMs) ?? 0,
      lastRttMs: num(j.lastRttMs),
      certificateSerial: str(j.certificateSerial) ?? '',
      driftRepairs: drift !== undefined && /^\d+$/.test(drift) ? BigInt(drift) : undefined,
    };
  } catch {
    return undefined;
  }
}
