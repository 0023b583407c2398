import type { Interface } from '../../proto/gen/cordon/v1/agent.js';
import {
  AgentState,
  type AgentSession,
  type ListAgentsResponse,
  type ListHostsResponse,
} from '../../proto/gen/cordon/v1/desk.js';
import type { Inventory } from '../inventory/Inventory.js';
import type { EnforcementObservation } from '../incidents/observeEnforcement.js';
import { toObservationMsg } from './hostDesk.js';
import type { AgentConnectionState, AgentSessions, AgentSessionView } from '../agents/SessionRegistry.js';

export interface DeskDeps {
  inventory: Inventory;
  sessions: AgentSessions;
  /** What the agent or the switch confirmed of each host's enforcement (EnforcementObserver.observeMany); absent: not listed. */
  observe?: ((hostIds: readonly string[]) => Promise<Map<string, EnforcementObservation>>) | undefined;
}

const STATE: Record<AgentConnectionState, AgentState> = {
  connected: AgentState.AGENT_STATE_CONNECTED,
  stale: AgentState.AGENT_STATE_STALE,
  disconnected: AgentState.AGENT_STATE_DISCONNECTED,
};

function toAgentSession(s: AgentSessionView): AgentSession {
  return {
    hostId: s.hostId,
    state: STATE[s.state],
    agentVersion: s.agentVersion,
    connectedSince: s.connectedSince,
    lastHeartbeat: s.lastHeartbeat,
    disconnectedAt: s.disconnectedAt,
    disconnectReason: s.disconnectReason,
    generationHeld: s.generationHeld,
    observedDigest: s.observedDigest,
    peerAddress: s.peerAddress,
    interfaces: s.interfaces as Interface[],
    lastRttMs: s.lastRttMs ?? 0,
    certificateSerial: s.certificateSerial,
    replica: s.replica ?? '',
  };
}

/** The operators' read side: hosts with their agent state, and agent sessions. */
export function createDeskHandlers(deps: DeskDeps) {
  return {
    async listHosts(): Promise<ListHostsResponse> {
      const hosts = deps.inventory.list();
      const observed = deps.observe ? await deps.observe(hosts.map((h) => h.id)) : undefined;
      return {
        hosts: hosts.map((h) => {
          const session = deps.sessions.get(h.id);
          return {
            id: h.id,
            customerId: h.customerId,
            publicPrefixes: h.publicPrefixes,
            managementAddress: h.managementAddress,
            agentState: session ? STATE[session.state] : AgentState.AGENT_STATE_NEVER_SEEN,
            customerName: '',
            customerEmail: '',
            observed: toObservationMsg(observed?.get(h.id)),
          };
        }),
      };
    },
    async listAgents(): Promise<ListAgentsResponse> {
      return { agents: deps.sessions.list().map(toAgentSession) };
    },
  };
}
