import type { Interface } from '../../proto/gen/cordon/v1/agent.js';
import {
  AgentState,
  type AgentSession,
  type ListAgentsResponse,
  type ListHostsResponse,
} from '../../proto/gen/cordon/v1/desk.js';
import type { Inventory } from '../inventory/Inventory.js';
import type { AgentConnectionState, AgentSessions, AgentSessionView } from '../agents/SessionRegistry.js';

export interface DeskDeps {
  inventory: Inventory;
  sessions: AgentSessions;
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
      return {
        hosts: deps.inventory.list().map((h) => {
          const session = deps.sessions.get(h.id);
          return {
            id: h.id,
            customerId: h.customerId,
            publicPrefixes: h.publicPrefixes,
            managementAddress: h.managementAddress,
            agentState: session ? STATE[session.state] : AgentState.AGENT_STATE_NEVER_SEEN,
            customerName: '',
            customerEmail: '',
          };
        }),
      };
    },
    async listAgents(): Promise<ListAgentsResponse> {
      return { agents: deps.sessions.list().map(toAgentSession) };
    },
  };
}
