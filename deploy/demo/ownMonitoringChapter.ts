import type { LabInfo } from '../lab/lab.js';
import { labCtl } from '../lab/lab.js';
import { LAB_OPERATORS } from '../lab/lab.js';
import { poll, runInNamespace } from '../lab/processes.js';
import { say, show, type Checks } from './narrate.js';

/**
 * New SMTP connections the story's server makes, against the lab's threshold
 * of 100 per 10 s window: even split across two windows, each half passes it.
 */
const FLOOD = 400;

interface IncidentRow {
  id: string;
  hostId: string;
  category: string;
  state: string;
}
interface ComplaintRow {
  reporter: string;
  reporterKind: string;
  trusted: boolean;
  evidence: string;
}

/**
 * The second story (issue 17): nobody complains, but the server's own agent
 * sees it send spam. The lab's third host opens `FLOOD` SMTP connections in a
 * few seconds (real TCP from its namespace to the lab's internet), its agent
 * counts them in its watch table, and the controller opens an incident from
 * own monitoring, with the notice to the customer as for any complaint.
 */
export async function ownMonitoringChapter(info: LabInfo, checks: Checks): Promise<void> {
  const host = info.topology.hosts[2];
  if (!host) {
    say('(the own-monitoring story needs a third host: npm run demo -- --hosts 3)');
    return;
  }
  const op = (...args: string[]) => labCtl(info, LAB_OPERATORS.operator, ...args);
  const t = info.topology;
  say(`nobody has complained about ${host.id}, but it starts sending mail itself: ${FLOOD} new SMTP connections in a few seconds`);
  // In batches of 50 at once, so that a busy machine still sends them within a window or two.
  const batch = `for i in $(seq 50); do (exec 3<>/dev/tcp/${t.inet4}/25) 2>/dev/null & done; wait`;
  runInNamespace(host.ns, 'timeout', ['60', 'bash', '-c', `for b in $(seq ${FLOOD / 50}); do ${batch}; done; true`], 90_000);
  const incident = await poll(() => {
    const rows = JSON.parse(op('incident', 'list', '--host', host.id, '--json')) as IncidentRow[];
    return rows.find((r) => r.category === 'spam');
  }, 30_000);
  checks.ok(`${host.id}'s agent saw it (10 s windows here) and the controller opened a spam incident`, incident !== undefined, incident ? `${incident.id}, ${incident.state}` : 'none');
  if (!incident) return;
  const detail = JSON.parse(op('incident', 'show', incident.id, '--json')) as { complaints?: ComplaintRow[] };
  const complaint = detail.complaints?.[0];
  checks.ok(
    'the complaint is from own monitoring (the agent, over its certificate), trusted, with the counts as evidence',
    complaint?.reporterKind === 'own_monitoring' && complaint.trusted === true && /counted \d+ new outbound connections to SMTP ports/.test(complaint.evidence),
    complaint ? `${complaint.reporter}, ${complaint.reporterKind}${complaint.trusted ? ', trusted' : ''}` : 'no complaint',
  );
  show(`${complaint?.evidence ?? ''}\n`);
}
