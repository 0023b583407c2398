import { AgentSession, AgentState, Host } from '../../proto/gen/cordon/v1/desk.js';
import type { DeskClient } from './deskClient.js';
import type { Flags } from './incidentCommands.js';
import { age, renderTable } from './table.js';
import { observationCell } from './describeObservation.js';

type Out = (text: string) => void;

export const AGENT_STATE_NAME: Record<number, string> = {
  [AgentState.AGENT_STATE_NEVER_SEEN]: 'never-seen',
  [AgentState.AGENT_STATE_CONNECTED]: 'connected',
  [AgentState.AGENT_STATE_STALE]: 'stale',
  [AgentState.AGENT_STATE_DISCONNECTED]: 'disconnected',
};

/** Proto3 JSON mapping (ts-proto toJSON), with agent states shortened for scripts. */
const json = (value: unknown) => JSON.stringify(value, null, 2) + '\n';

/**
 * `cordonctl agents | hosts | host list | health`; returns the exit code.
 * Agent liveness is a fact of the wire and runs on the wall clock (see
 * runController), so heartbeat ages here are measured from this machine's.
 */
export async function runFleetCommand(client: DeskClient, words: string[], f: Flags, out: Out): Promise<number> {
  const now = new Date();
  switch (words[0] === 'host' ? 'hosts' : words[0]) {
    case 'agents': {
      const { agents } = await client.listAgents();
      if (f.json) {
        out(json(agents.map((a) => ({ ...(AgentSession.toJSON(a) as object), state: AGENT_STATE_NAME[a.state] ?? 'unknown' }))));
        return 0;
      }
      // The REPLICA column only where there are replicas (a PostgreSQL store).
      const replicas = agents.some((a) => a.replica !== '');
      out(
        renderTable(
          ['HOST', 'STATE', 'VERSION', 'CONNECTED', 'HEARTBEAT', 'GENERATION', 'RTT', 'PEER', ...(replicas ? ['REPLICA'] : [])],
          agents.map((a) => [
            a.hostId,
            AGENT_STATE_NAME[a.state] ?? 'unknown',
            a.agentVersion,
            age(a.connectedSince, now),
            age(a.lastHeartbeat, now),
            a.generationHeld.toString(),
            a.lastRttMs ? `${a.lastRttMs}ms` : '-',
            a.peerAddress,
            ...(replicas ? [a.replica || '-'] : []),
          ]),
        ),
      );
      return 0;
    }
    case 'hosts': {
      const { hosts } = await client.listHosts();
      if (f.json) {
        out(json(hosts.map((h) => ({ ...(Host.toJSON(h) as object), agentState: AGENT_STATE_NAME[h.agentState] ?? 'unknown' }))));
        return 0;
      }
      out(
        renderTable(
          ['HOST', 'CUSTOMER', 'AGENT', 'ENFORCEMENT', 'MANAGEMENT', 'PUBLIC PREFIXES'],
          hosts.map((h) => [h.id, h.customerId, AGENT_STATE_NAME[h.agentState] ?? 'unknown', observationCell(h.observed), h.managementAddress, h.publicPrefixes.join(' ')]),
        ),
      );
      return 0;
    }
    default: {
      const status = await client.checkHealth();
      out(f.json ? json({ status }) : `${status}\n`);
      return status === 'SERVING' ? 0 : 1;
    }
  }
}
