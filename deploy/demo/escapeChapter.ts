import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { LAB_OPERATORS, labCtl, labProbe, type LabInfo } from '../lab/lab.js';
import { LAB_SWITCH_SILENT_SECONDS } from '../lab/labControllers.js';
import { bmcAnswers, escapeAsCustomer, startLabAgent, switchPortUp } from '../lab/labHosts.js';
import { poll, sleep } from '../lab/processes.js';
import type { LabHost } from '../lab/topology.js';
import { readLabMail } from './labMail.js';
import { say, show, type Checks } from './narrate.js';

interface Detail {
  incident: { id: string; state: string; hold?: string; actions?: string[] };
  events?: { at: string; type: string; toState: string; actor: string; detail: string }[];
}
interface AgentRow {
  hostId: string;
  state: string;
}

/**
 * Slack over the window: the sweep (every second in the lab), the SSH login,
 * the command and the read-back, all slower on a loaded machine (13–15 s in
 * all with a load average of 10–13 on 2 cores).
 */
const SWITCH_SLACK_MS = 8_000;

/**
 * The escape (issue 20): the customer of a cut server has root on it, kills
 * its agent (kill -9) and flushes its firewall (`nft flush ruleset`). The
 * server is reachable again for a moment; the controller sees the agent
 * silent past the lab's window and shuts the server's port on the lab's
 * access switch over SSH; the BMC still answers on the management network.
 * After the customer's fix, the operator's release waits for a
 * confirmation: the port opens, the restarted agent reports the lift,
 * traffic flows, and only then does the incident read `released`. Every
 * reachability claim is a TCP connection from the lab's internet.
 */
export async function escapeChapter(info: LabInfo, checks: Checks): Promise<void> {
  const t = info.topology;
  // web-02 when there is one (web-01 told the main story; web-03 the own-monitoring one).
  const host: LabHost = t.hosts[1] ?? t.hosts[0]!;
  const op = (...args: string[]) => labCtl(info, LAB_OPERATORS.operator, ...args);
  const admin = (...args: string[]) => labCtl(info, LAB_OPERATORS.admin, ...args);
  const detail = (id: string) => JSON.parse(op('incident', 'show', id, '--json')) as Detail;
  const fromInternet = () => labProbe(t.inetNs, host.pub4, 22, 800);
  const agentState = () => (JSON.parse(op('agents', '--json')) as AgentRow[]).find((a) => a.hostId === host.id)?.state ?? 'unknown';
  const sw = info.switch;
  if (!checks.ok(`the lab's switch is managed over SSH (sshd on ${t.switch4})`, sw !== undefined, sw ? `host key ${sw.hostKeySha256}` : 'no switch in this lab') || !sw) return;

  // 1. An operator cuts the server on what the desk sees live; four eyes, since no complaint stands behind it.
  say(`${LAB_OPERATORS.operator} sees command-and-control traffic from ${host.id} live and isolates it; ${LAB_OPERATORS.admin} approves (four eyes)`);
  show(op('enforce', '--host', host.id, '--action', 'isolate', '--reason', 'demo: C&C traffic seen live'));
  const approval = (JSON.parse(op('approvals', '--json')) as { id: string; state: string; hostIds: string[] }[]).find((a) => a.state === 'pending' && a.hostIds.includes(host.id));
  if (!checks.ok(`the cut waits for a second operator`, approval !== undefined, approval?.id ?? 'no pending approval')) return;
  const granted = admin('approve', approval!.id);
  show(granted);
  const id = /inc-[0-9]{8}-[0-9a-f]+/.exec(granted)?.[0] ?? '';
  const enforced = await poll(() => (detail(id).incident.state === 'enforced' ? true : undefined), 20_000);
  const cutIn = fromInternet();
  checks.ok(`${host.id} is cut: its agent confirms, and from the internet ${host.pub4}:22 does not answer`, enforced === true && cutIn !== 'connected', `${detail(id).incident.state}, from the internet ${cutIn}`);

  // 2. The customer has root.
  say(`the customer, root on ${host.id}, kills its agent (kill -9) and runs nft flush ruleset`);
  const escapedAt = performance.now();
  const killed = await escapeAsCustomer(host);
  show(`killed cordon-agent pid ${killed ?? '(none)'}; nft flush ruleset\n`);
  const open = await poll(() => (fromInternet() === 'connected' ? true : undefined), 3_000);
  checks.ok(`for a moment ${host.id} is reachable again from the internet: the agent's rules are gone`, open === true);

  // 3. The controller notices the silence and hands the cut to the switch.
  say(`the controller sees the agent silent; its window in the lab is ${LAB_SWITCH_SILENT_SECONDS} s (production: 90 s)`);
  const windowMs = LAB_SWITCH_SILENT_SECONDS * 1000 + SWITCH_SLACK_MS;
  const down = await poll(() => (switchPortUp(t, host) === false ? performance.now() : undefined), windowMs + 10_000);
  const downSeconds = down === undefined ? undefined : (down - escapedAt) / 1000;
  checks.ok(
    `the switch shut ${host.id}'s port (${host.switchPort} on ${sw.switchId}, read from the switch) within the window, a sweep and the SSH call`,
    downSeconds !== undefined && downSeconds * 1000 <= windowMs,
    downSeconds === undefined ? 'still up' : `${downSeconds.toFixed(1)} s after the escape`,
  );
  const cutAgain = await poll(() => (fromInternet() !== 'connected' ? true : undefined), 3_000);
  checks.ok(`from the internet ${host.pub4}:22 no longer answers`, cutAgain === true);
  // The controller records the change after reading the port back, a second SSH exec: seconds after the port is down on a loaded machine.
  const portEvent = await poll(() => detail(id).events?.find((e) => e.type === 'switch_port_down'), 15_000);
  checks.ok('the incident records the switch holding the cut, with why', portEvent !== undefined && /agent silent/.test(portEvent.detail), portEvent?.detail ?? 'no switch_port_down event');
  const mgmt = labProbe(t.mgmtNs, host.mgmt4, 22);
  const bmc = bmcAnswers(info.dir, t, host);
  checks.ok(`the management network still reaches ${host.id} (${host.mgmt4}:22 ${mgmt}) and its BMC answers ipmitool from there`, mgmt === 'connected' && bmc !== undefined, bmc ?? 'BMC silent');
  show(op('host', 'show', host.id));
  const told = readLabMail(join(info.dir, 'mail')).filter((m) => m.incident === id);
  const cutMail = told.find((m) => m.template === 'enforced');
  // Paragraphs are wrapped: compare with single spaces.
  const cutText = cutMail ? ((await simpleParser(readFileSync(cutMail.path))).text ?? '').replace(/\s+/g, ' ') : '';
  checks.ok(
    `the customer was told of the cut and how to reach the console`,
    cutText.includes(`IPMI console (BMC) of server ${host.id} is at ${host.bmc4}`),
    told.map((m) => `${m.template}: "${m.subject}"`).join('; ') || 'no mail',
  );

  // 4. The fix, and the release, which waits for what the network does.
  say('the customer cleans the server up and says so; the agent is still down when the operator releases');
  op('incident', 'answer', id, '--fixed', '--note', 'demo: removed the bot and its cron job; the agent will be back after a reboot');
  const releaseAt = performance.now();
  show(op('incident', 'release', id));
  const waiting = detail(id).incident.state;
  const releasedEarly = waiting === 'released' || waiting === 'closed';
  checks.ok(`with the agent gone the release is not claimed done: the incident reads ${waiting}`, !releasedEarly, waiting);
  const portUp = await poll(() => (switchPortUp(t, host) === true ? performance.now() : undefined), 10_000);
  checks.ok(`the switch reopened ${host.id}'s port`, portUp !== undefined, portUp === undefined ? 'still down' : `${((portUp - releaseAt) / 1000).toFixed(1)} s after the release`);
  await sleep(1_000);
  const stillWaiting = detail(id).incident.state;
  checks.ok(`still no agent to confirm the lift: the incident reads ${stillWaiting}, not released`, stillWaiting !== 'released' && stillWaiting !== 'closed', stillWaiting);

  const liftedMail = () => readLabMail(join(info.dir, 'mail')).find((m) => m.incident === id && /^(released|closed)/.test(m.template));
  const early = liftedMail();
  checks.ok('nothing told the customer the restrictions were lifted yet', early === undefined, early ? `${early.template}: "${early.subject}"` : '');
  say(`the customer reboots ${host.id}; its agent starts again`);
  startLabAgent(info.dir, host);
  const seen: string[] = [];
  let verdict: { state: string; agent: string; traffic: string } | undefined;
  for (const deadline = Date.now() + 30_000; Date.now() < deadline && !verdict; await sleep(200)) {
    const state = detail(id).incident.state;
    if (seen.at(-1) !== state) seen.push(state);
    if (state !== 'released' && state !== 'closed') continue;
    // The first time it reads released: is it true?
    verdict = { state, agent: agentState(), traffic: fromInternet() };
  }
  checks.ok(
    `only once the port is up, the agent is back and traffic flows from the internet does the incident read released (or closed)`,
    verdict !== undefined && verdict.agent === 'connected' && verdict.traffic === 'connected' && switchPortUp(t, host) === true,
    verdict ? `states ${[waiting, ...seen].join(' → ')}; then the agent ${verdict.agent}, from the internet ${verdict.traffic}` : `states ${[waiting, ...seen].join(' → ')}`,
  );
  const out80 = labProbe(host.ns, t.inet4, 80);
  checks.ok(`${host.id} reaches the internet again (port 80 out)`, out80 === 'connected', out80);
  const lifted = await poll(liftedMail, 15_000);
  checks.ok('then the customer is told the restrictions are lifted', lifted !== undefined, lifted ? `${lifted.template}: "${lifted.subject}"` : 'no mail');
}
