import { DispatchStatus, type AgentSession, type HostDetail } from '../../proto/gen/cordon/v1/desk.js';
import { describeEnforcement } from './describeEnforcement.js';
import { describeObservation } from './describeObservation.js';
import type { DeskNow } from './deskNow.js';
import { AGENT_STATE_NAME } from './fleetCommands.js';
import { age, oneLine, renderTable } from './table.js';

const DISPATCH: Record<number, string> = {
  [DispatchStatus.DISPATCH_STATUS_APPLIED]: 'applied',
  [DispatchStatus.DISPATCH_STATUS_PENDING]: 'sent, not yet reported',
  [DispatchStatus.DISPATCH_STATUS_FAILED]: 'FAILED on the agent',
  [DispatchStatus.DISPATCH_STATUS_UNREACHABLE]: 'NOT delivered: the agent is not connected',
};

/**
 * `cordonctl host show H` for people. BMC checks and enforcements are on the
 * incident clock (`desk`); the agent's heartbeat is on the wall clock (`wall`),
 * as agent liveness is everywhere in Cordon.
 */
export function renderHostDetail(d: HostDetail, agent: AgentSession | undefined, desk: DeskNow, wall: Date): string {
  const h = d.host!;
  const lines: [string, string][] = [];
  const contact = [h.customerName, h.customerEmail && `<${h.customerEmail}>`].filter(Boolean).join(' ');
  lines.push(['customer', `${h.customerId}${contact ? ` (${oneLine(contact)})` : ''}`]);
  lines.push(['prefixes', h.publicPrefixes.join(' ') || '-']);
  lines.push(['management', h.managementAddress || '-']);
  if (h.bmc) {
    const c = d.lastBmcCheck;
    const last = c
      ? `last check ${c.checkedAt?.toISOString() ?? '-'} (${age(c.checkedAt, desk.now)}${desk.inline}): ${c.reachable ? 'answered' : 'did NOT answer'}${c.sol ? `, SOL ${c.sol}` : ''}${c.error ? `: ${oneLine(c.error)}` : ''}`
      : 'never checked';
    lines.push(['BMC', `${h.bmc.address}:${h.bmc.port} as ${oneLine(h.bmc.user)}${h.bmc.sol ? ', SOL required' : ''}; ${last}`]);
  } else {
    lines.push(['BMC', 'none recorded: cuts (isolate, NIC down) cannot be checked against it']);
  }
  lines.push([
    'agent',
    agent
      ? `${AGENT_STATE_NAME[agent.state] ?? 'unknown'}${agent.agentVersion ? ` (version ${oneLine(agent.agentVersion)})` : ''}, heartbeat ${age(agent.lastHeartbeat, wall)}, holds generation ${agent.generationHeld}${agent.lastRttMs ? `, rtt ${agent.lastRttMs}ms` : ''}`
      : 'never seen since the controller started',
  ]);
  const dispatch = `${DISPATCH[d.dispatch] ?? 'unknown'}${d.dispatchError ? `: ${oneLine(d.dispatchError)}` : ''}`;
  lines.push(['generation', `desired ${d.generation}, applied ${d.appliedGeneration} (${dispatch})`]);
  const p = d.switchPort;
  lines.push([
    'switch port',
    p
      ? `${p.hostPort} on ${p.switchId} (${p.address}, ${p.vendor}): ${p.portDown ? `SHUT by Cordon${p.changedAt ? ` since ${p.changedAt.toISOString()}` : ''}${p.reason ? ` (${oneLine(p.reason)})` : ''}` : 'not shut by Cordon'}` +
        (p.failure ? `; switch FAILING since ${p.failureSince?.toISOString() ?? '?'} (${p.failureKind}: ${oneLine(p.failure)})` : p.confirmedAt ? `; switch confirmed ${p.confirmedAt.toISOString()}` : '')
      : 'none in the inventory',
  ]);
  lines.push(['observed', describeObservation(d.observed)]);
  const width = Math.max(...lines.map(([k]) => k.length)) + 1;
  const head = `host ${h.id}\n${lines.map(([k, v]) => `  ${`${k}:`.padEnd(width)} ${v}`).join('\n')}\n`;
  const enforcements =
    d.enforcements.length === 0
      ? '\nenforcements in force: none\n'
      : `\nenforcements in force (${d.enforcements.length}):\n` +
        renderTable(
          ['ENFORCEMENT', 'ACTION', 'INCIDENT', 'REASON'],
          d.enforcements.map((e) => [e.id, describeEnforcement(e), e.incidentId || '-', oneLine(e.reason) || '-']),
        );
  return head + enforcements;
}
