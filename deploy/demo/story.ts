import { readFileSync, writeFileSync } from 'node:fs';
import { simpleParser } from 'mailparser';
import { join } from 'node:path';
import { packageRoot } from '../../proto/runtime/version.js';
import { LAB_OPERATORS, LAB_P12_PASSPHRASE, labCtl, labProbe, type LabInfo } from '../lab/lab.js';
import { openDeskWithP12 } from './deskCheck.js';
import { LAB_ATTACKER, LAB_REPORTER, signLabReport } from '../lab/labReporters.js';
import { poll } from '../lab/processes.js';
import { readLabMail, type LabMail } from './labMail.js';
import { answerFixedOnPage } from './customerBrowser.js';
import { Checks, say, setLabClockOffset, show } from './narrate.js';
import { killStreamHolder } from './replicaFailover.js';
import { ownMonitoringChapter } from './ownMonitoringChapter.js';
import { escapeChapter } from './escapeChapter.js';

interface IncidentJson {
  id: string;
  hostId: string;
  state: string;
  hold?: string;
  actions?: string[];
  ackDueAt?: string;
  nextDueAt?: string;
}
interface IngestJson {
  outcome: string;
  reason: string;
  incidentId?: string;
  trusted?: boolean;
  authentication?: string;
}
interface DetailJson {
  incident: IncidentJson;
  events?: { at: string; type: string; toState: string; actor: string; detail: string }[];
}

const REPORT = 'deploy/lab/reports/spam-arf-web-01.eml';

/** The customer page's link in a delivered mail: `<pageUrl>/c/<43-character token>`. */
async function pageLinkIn(mail: LabMail, pageUrl: string): Promise<string | undefined> {
  const text = (await simpleParser(readFileSync(mail.path))).text ?? '';
  const escaped = pageUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`${escaped}/c/[A-Za-z0-9_-]{43}`).exec(text)?.[0];
}

/** The one-line reason the controller gave for trusting (or not) an ingested report. */
function authReason(r: IngestJson): string {
  try {
    return (JSON.parse(r.authentication ?? '{}') as { reason?: string }).reason ?? '?';
  } catch {
    return '?';
  }
}

/**
 * The demo's story on a running lab: one spam complaint about web-01, from
 * intake to release, with every claim checked by a probe, the store or the
 * delivered mail. Returns the checks; the caller decides the exit code.
 */
export async function runStory(info: LabInfo): Promise<Checks> {
  const checks = new Checks();
  const t = info.topology;
  const [web1, web2] = t.hosts;
  if (!web1) throw new Error('the story needs at least one host');
  const op = (...args: string[]) => labCtl(info, LAB_OPERATORS.operator, ...args);
  const admin = (...args: string[]) => labCtl(info, LAB_OPERATORS.admin, ...args);
  const detail = (id: string) => JSON.parse(op('incident', 'show', id, '--json')) as DetailJson;
  const waitIncident = async (id: string, what: string, ok: (i: IncidentJson) => boolean) => {
    const seen = await poll(() => {
      const d = detail(id);
      return ok(d.incident) ? d : undefined;
    }, 20_000);
    return seen ?? detail(id);
  };
  const mailDir = join(info.dir, 'mail');
  const waitMail = async (incident: string, template: string): Promise<LabMail | undefined> =>
    poll(() => readLabMail(mailDir).find((m) => m.incident === incident && m.template === template), 15_000);
  const probe = (from: string, host: string, port: number) => labProbe(from, host, port);
  const advance = (duration: string, why: string) => {
    const r = JSON.parse(admin('clock', 'advance', duration, '--reason', why, '--json')) as { now: string; offsetSeconds: string };
    setLabClockOffset(Number(r.offsetSeconds) * 1000);
    say(`drill clock: ${LAB_OPERATORS.admin} moves the controller's incident clock forward ${duration} (${why})`);
  };

  setLabClockOffset(0);
  say(`the lab: ${t.hosts.map((h) => `${h.id} (public ${h.pub4}, management ${h.mgmt4}, BMC ${h.bmc4})`).join('; ')}; customer ${info.customer.name} <${info.customer.email}>`);
  show(op('agents'));
  checks.ok(`${web1.id} reaches the internet: SMTP and HTTP`, probe(web1.ns, t.inet4, 25) === 'connected' && probe(web1.ns, t.inet4, 80) === 'connected');
  const bmcFirst = op('host', 'bmc-check', web1.id).trim();
  checks.ok(`${web1.id}'s BMC answers IPMI from the management network`, /BMC answers/.test(bmcFirst), bmcFirst);

  // 1. The complaint, in a real format, through the real intake: DKIM-signed by its reporter, whom the lab registers.
  const template = readFileSync(join(packageRoot(), REPORT), 'utf8');
  const report = join(info.dir, 'spam-arf-web-01.eml');
  writeFileSync(report, await signLabReport(info.dir, template, 'reporter'));
  say(`a feedback-loop report arrives (ARF, RFC 5965; ${REPORT}), DKIM-signed by ${LAB_REPORTER.domain}: spam from ${web1.pub4}`);
  const first = JSON.parse(op('ingest', report, '--json')) as IngestJson;
  show(`${first.outcome}: ${first.reason} (${first.trusted ? 'trusted' : 'untrusted'}: ${authReason(first)})\n`);
  const id = first.incidentId ?? '';
  checks.ok(`the complaint opened an incident for ${web1.id} alone`, id !== '' && first.reason.includes(`for host ${web1.id}`), id);
  checks.ok(`it is trusted because ${LAB_REPORTER.domain}'s DKIM signature verifies, aligned with its From, and the domain is a registered reporter`, first.trusted === true, authReason(first));
  if (!id) return checks;

  const notice = await waitMail(id, 'notice');
  checks.ok(`the customer's notice was delivered by SMTP`, notice?.to === info.customer.email, notice ? `to ${notice.to}: "${notice.subject}"` : 'no mail');
  const notified = await waitIncident(id, 'notified', (i) => i.state === 'notified');
  checks.ok('the acknowledge deadline runs from the delivered notice', notified.incident.state === 'notified', `ack due ${notified.incident.ackDueAt ?? '?'}`);

  // 2. No answer within 24 h: escalation, SMTP block on that server only.
  say('the customer does not answer');
  advance('24h1m', 'demo: the acknowledge deadline passes');
  const blocked = await waitIncident(id, 'smtp block', (i) => i.state === 'enforced' && (i.actions ?? []).includes('smtp_block'));
  checks.ok('the incident escalated and the agent reports the SMTP block in place', blocked.incident.state === 'enforced', `actions ${(blocked.incident.actions ?? []).join(', ')}`);
  const p25 = probe(web1.ns, t.inet4, 25);
  const p80 = probe(web1.ns, t.inet4, 80);
  checks.ok(`from ${web1.id}: port 25 refused, port 80 still fine`, p25 === 'refused' && p80 === 'connected', `25 ${p25}, 80 ${p80}`);
  if (web2) {
    const other = probe(web2.ns, t.inet4, 25);
    checks.ok(`${web2.id}, same customer, is untouched: its port 25 still connects`, other === 'connected', other);
  }
  const escalated = await waitMail(id, 'enforced');
  checks.ok('the customer was told what was done and why', escalated !== undefined, escalated ? `"${escalated.subject}"` : 'no mail');

  // 3. Still no answer a day later: the next rung cuts the public network, after the BMC answers.
  say('still no answer a day later');
  advance('24h1m', 'demo: the next step of the ladder is due');
  const cut = await waitIncident(id, 'isolate', (i) => (i.actions ?? []).includes('isolate') && i.state === 'enforced' && !i.hold);
  const bmcEvent = cut.events?.filter((e) => e.type === 'bmc_result').at(-1);
  checks.ok(`the controller checked ${web1.id}'s BMC before cutting`, bmcEvent !== undefined && /"reachable":true/.test(bmcEvent.detail), bmcEvent?.detail ?? 'no BMC check recorded');
  checks.ok('the agent reports the public interfaces isolated', cut.incident.state === 'enforced' && (cut.incident.actions ?? []).includes('isolate'), `actions ${(cut.incident.actions ?? []).join(', ')}`);
  const out80 = probe(web1.ns, t.inet4, 80);
  const in22 = probe(t.inetNs, web1.pub4, 22);
  checks.ok(`${web1.id}'s public side is cut: out to port 80 and in from the internet both fail`, out80 !== 'connected' && in22 !== 'connected', `out ${out80}, in ${in22}`);
  const mgmt22 = probe(t.mgmtNs, web1.mgmt4, 22);
  checks.ok(`the management network still reaches ${web1.id}`, mgmt22 === 'connected', `${web1.mgmt4}:22 ${mgmt22}`);
  const bmcAfter = op('host', 'bmc-check', web1.id).trim();
  checks.ok(`${web1.id}'s BMC still answers, so the customer can log in and repair`, /BMC answers/.test(bmcAfter), bmcAfter);
  const agentRow = (JSON.parse(op('agents', '--json')) as { hostId: string; state: string }[]).find((a) => a.hostId === web1.id);
  checks.ok(`${web1.id}'s agent is still connected over the management network`, agentRow?.state === 'connected');

  // 3b. With replicas (--ha): the one holding web-01's stream dies while the cut is in force; the rest of the story runs on the survivors.
  if (info.postgres) await killStreamHolder(info, web1, checks);

  // 4. The customer fixes it and says so on the page their notice links to; an operator verifies and releases.
  const link = notice ? await pageLinkIn(notice, info.pageUrl) : undefined;
  checks.ok(`the notice carries the customer's own page link (${info.pageUrl}/c/…)`, link !== undefined, link ? 'found in the notice' : 'no link in the notice');
  if (!link) return checks;
  checks.pageLink = link;
  say(`the customer opens the link from the notice in a browser (headless Chromium) and answers: fixed`);
  const answered = await answerFixedOnPage(link, 'Removed the compromised WordPress plugin that sent the spam and rotated every mail password.');
  show(`the page says: ${answered.shown.split('\n').find((l) => /fixed|received|recorded|waiting/i.test(l)) ?? answered.title}\n`);
  const requested = await waitIncident(id, 'release requested', (i) => i.state === 'release_requested');
  const answerEvent = requested.events?.find((e) => e.type === 'customer_fixed');
  checks.ok(
    "the customer's answer on the page is the incident's own event, by the customer, with where it came from",
    requested.incident.state === 'release_requested' && answerEvent?.actor === 'customer' && /"channel":"page"/.test(answerEvent.detail),
    answerEvent ? `${answerEvent.type} by ${answerEvent.actor}: ${answerEvent.detail}` : `state ${requested.incident.state}`,
  );
  say(`${LAB_OPERATORS.operator} releases ${web1.id}`);
  show(op('incident', 'release', id));
  const closed = await waitIncident(id, 'closed', (i) => i.state === 'closed');
  checks.ok('the agent removed every enforcement and the incident closed', closed.incident.state === 'closed');
  const after = [probe(web1.ns, t.inet4, 25), probe(web1.ns, t.inet4, 80), probe(t.inetNs, web1.pub4, 22)];
  checks.ok(`${web1.id} works again: SMTP out, HTTP out, reachable from the internet`, after.every((p) => p === 'connected'), after.join(', '));
  const closing = await waitMail(id, 'closed');
  checks.ok('the customer got the closing mail', closing !== undefined, closing ? `"${closing.subject}"` : 'no mail');
  say('every mail the customer received:');
  show(readLabMail(mailDir).filter((m) => m.incident === id).map((m) => `${m.template.padEnd(10)} ${m.subject}\n`).join(''));

  // 5. The same report again, weeks later: recognised, not reopened.
  say(`17 days later the mail system delivers the very same report again`);
  advance('408h', 'demo: a replay weeks after the incident closed');
  const replay = JSON.parse(op('ingest', report, '--json')) as IngestJson;
  show(`${replay.outcome}: ${replay.reason}\n`);
  const incidentsOfWeb1 = (JSON.parse(op('incident', 'list', '--host', web1.id, '--json')) as IncidentJson[]).length;
  checks.ok('the replay is recognised as a duplicate of the closed complaint: no new incident, no notice, no deadline', replay.outcome === 'duplicate' && incidentsOfWeb1 === 1, `${replay.outcome}; ${incidentsOfWeb1} incident(s) for ${web1.id}`);

  // 6. A forged report: the reporter's From, the attacker's signature.
  if (web2) {
    const forged = join(info.dir, 'forged-arf-web-02.eml');
    const text = template.replaceAll(web1.pub4, web2.pub4).replace(/Message-ID: <fbl-[^>]+>/, 'Message-ID: <fbl-forged-0001@mailbox.example>');
    writeFileSync(forged, await signLabReport(info.dir, text, 'attacker'));
    say(`a forged report about ${web2.id}: From ${LAB_REPORTER.domain}, but DKIM-signed by ${LAB_ATTACKER.domain}`);
    const f = JSON.parse(op('ingest', forged, '--json')) as IngestJson;
    show(`${f.outcome}: ${f.reason} (${f.trusted ? 'trusted' : 'untrusted'}: ${authReason(f)})\n`);
    checks.ok('the forgery is recorded but untrusted: the signature is not aligned with the From domain', f.trusted !== true && f.outcome === 'opened', authReason(f));
    // The acknowledge deadline runs from the delivered notice: moving the clock before the outbox delivered it
    // (another replica's worker, in --ha) would start the 24 h after the move, and nothing would fall due.
    const forgedNotified = await waitIncident(f.incidentId ?? '', 'notified', (i) => i.state === 'notified');
    checks.ok('the forged complaint\'s notice went out like any other (it is the customer\'s to answer)', forgedNotified.incident.state === 'notified', `state ${forgedNotified.incident.state}`);
    say('nobody answers the forged complaint; its deadline passes');
    advance('24h1m', 'demo: the forged complaint\'s deadline passes');
    const held = await waitIncident(f.incidentId ?? '', 'held', (i) => i.hold === 'untrusted_reporter');
    checks.ok('the forged complaint waits for an operator and enforces nothing', held.incident.hold === 'untrusted_reporter' && (held.incident.actions ?? []).length === 0, `state ${held.incident.state}, hold ${held.incident.hold ?? '-'}`);
    const p = probe(web2.ns, t.inet4, 25);
    checks.ok(`${web2.id} still sends mail: its port 25 connects`, p === 'connected', p);
  }

  // 6b. Nobody complains, but the server's own agent sees it send spam.
  await ownMonitoringChapter(info, checks);

  // 6c. A cut server's customer, root on it, kills the agent and flushes its rules: the switch takes over.
  await escapeChapter(info, checks);

  // 7. The desk in the browser: the operator's .p12, as a browser would present it, opens the queue through the lab's bridge.
  const deskUrl = `https://127.0.0.1:${t.deskPort}/`;
  const desk = await openDeskWithP12(deskUrl, join(info.dir, 'pki'), LAB_OPERATORS.operator, LAB_P12_PASSPHRASE).catch((err: unknown) => ({ status: 0, title: (err as Error).message }));
  checks.ok(`the abuse desk opens in a browser on this machine with ${LAB_OPERATORS.operator}'s certificate (.p12) at ${deskUrl}`, desk.status === 200, `${desk.status} ${desk.title}`);

  // 8. The record.
  say(`the incident's history (cordonctl incident show ${id}):`);
  show(op('incident', 'show', id));
  const audit = op('audit', 'verify').trim();
  checks.ok('the hash-chained audit log verifies', /^audit chain OK/.test(audit), audit);
  return checks;
}
