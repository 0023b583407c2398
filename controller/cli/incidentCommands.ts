import { readFileSync } from 'node:fs';
import type { Enforcement } from '../../proto/gen/cordon/v1/agent.js';
import {
  Answer,
  Approval,
  BmcCheckResult,
  ComplaintRaw,
  Decision,
  EnforceResponse,
  HostDetail,
  Incident,
  IncidentDetail,
  SubmitComplaintResponse,
  VerifyAuditResponse,
  type ListAgentsResponse,
  type ListApprovalsResponse,
  type ListIncidentsResponse,
} from '../../proto/gen/cordon/v1/desk.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import type { DeskClient } from './deskClient.js';
import { age, dueIn, oneLine, renderTable } from './table.js';
import { renderCustomerVoice } from './customerVoiceCommands.js';
import { readDeskNow, type DeskNow } from './deskNow.js';
import { renderApprovals } from './renderApprovals.js';
import { renderComplaints, renderRaw } from './renderComplaints.js';
import { renderHostDetail } from './renderHostDetail.js';
import { describeObservation } from './describeObservation.js';

export type Flags = Record<string, string | boolean | string[] | undefined>;
type Out = (text: string) => void;

const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
const str = (f: Flags, name: string): string | undefined => (typeof f[name] === 'string' ? (f[name] as string) : undefined);
function need(f: Flags, name: string): string {
  const v = str(f, name);
  if (!v) throw new CordonError('invalid', 'is required', { field: `--${name}` });
  return v;
}
function date(f: Flags, name: string): Date | undefined {
  const v = str(f, name);
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new CordonError('invalid', `${JSON.stringify(v)} is not an ISO 8601 time`, { field: `--${name}` });
  return d;
}

function actionFrom(f: Flags): Enforcement {
  const kind = need(f, 'action');
  const base = { id: '', incidentId: '', reason: '' };
  switch (kind) {
    case 'smtp_block':
      return { ...base, action: { $case: 'smtpBlock', value: { ports: [], allowedRelays: [] } } };
    case 'throttle': {
      const rate = Number(need(f, 'rate'));
      if (!Number.isInteger(rate) || rate <= 0) throw new CordonError('invalid', 'must be bits per second, e.g. 10000000', { field: '--rate' });
      return { ...base, action: { $case: 'throttle', value: { rateBps: BigInt(rate) } } };
    }
    case 'isolate':
      return { ...base, action: { $case: 'isolate', value: {} } };
    case 'nic_down':
      return { ...base, action: { $case: 'nicDown', value: {} } };
    default:
      throw new CordonError('invalid', 'one of smtp_block, throttle, isolate, nic_down', { field: '--action' });
  }
}

/** Incidents as a table; due times and ages against the incident clock's now. */
function incidentTable(list: Incident[], desk: DeskNow): string {
  return renderTable(
    ['INCIDENT', 'HOST', 'CATEGORY', 'STATE', 'HOLD', 'ACTIONS', `NEXT DUE${desk.mark}`, `OPENED${desk.mark}`],
    list.map((i) => [
      i.id,
      i.hostId,
      i.category,
      i.state,
      i.hold || '-',
      i.actions.join(',') || '-',
      i.nextDueAt ? `${i.nextDueAt.toISOString()} (${dueIn(i.nextDueAt, desk.now)})` : '-',
      age(i.openedAt, desk.now),
    ]),
  );
}

/** `cordonctl host|complaint|incident|enforce|approve|approvals|audit …`; returns the exit code. */
export async function runIncidentCommand(client: DeskClient, words: string[], f: Flags, out: Out): Promise<number> {
  const [noun, verb, arg] = words;
  const asJson = f.json === true;
  // enforce, approve and approvals are single words; the rest are noun verb.
  const single = noun === 'enforce' || noun === 'approve' || noun === 'approvals';
  switch (single ? noun : `${noun} ${verb ?? ''}`.trim()) {
    case 'host add': {
      const host = {
        id: need(f, 'id'),
        customerId: need(f, 'customer'),
        publicPrefixes: (f.prefix as string[] | undefined) ?? [],
        managementAddress: need(f, 'management'),
        agentState: 0,
        customerName: str(f, 'customer-name') ?? '',
        customerEmail: str(f, 'customer-email') ?? '',
        bmc: str(f, 'bmc-address')
          ? { address: need(f, 'bmc-address'), port: 623, user: need(f, 'bmc-user'), passwordFile: need(f, 'bmc-password-file'), sol: f['bmc-sol'] === true, cipherSuite: 0 }
          : undefined,
      };
      await client.call('addHost', { host });
      out(asJson ? json({ added: host.id }) : `host ${host.id} added\n`);
      return 0;
    }
    case 'host show': {
      const id = arg ?? need(f, 'id');
      if (asJson) {
        out(json(HostDetail.toJSON(await client.call<unknown, HostDetail>('getHost', { id }))));
        return 0;
      }
      const [d, agents, desk] = await Promise.all([client.call<unknown, HostDetail>('getHost', { id }), client.listAgents() as Promise<ListAgentsResponse>, readDeskNow(client)]);
      out(renderHostDetail(d, agents.agents.find((a) => a.hostId === id), desk, new Date()));
      return 0;
    }
    case 'host bmc-check': {
      const r = await client.call<unknown, BmcCheckResult>('checkBmc', { id: arg ?? need(f, 'id') });
      out(
        asJson
          ? json(BmcCheckResult.toJSON(r))
          : `${r.hostId}: BMC ${r.reachable ? 'answers' : 'does NOT answer'} (SOL ${r.sol}, ${r.durationMs} ms, ${r.attempts} command${r.attempts === 1 ? '' : 's'})${r.error ? `: ${r.error}` : ''}\n`,
      );
      return r.reachable ? 0 : 1;
    }
    case 'complaint submit': {
      const rawFile = str(f, 'raw');
      const raw = rawFile === undefined ? '' : readFileSync(rawFile === '-' ? 0 : rawFile, 'utf8');
      const r = await client.call<unknown, SubmitComplaintResponse>('submitComplaint', {
        ip: need(f, 'ip'),
        category: need(f, 'category'),
        reporter: str(f, 'reporter') ?? '',
        reporterKind: need(f, 'reporter-kind'),
        eventTime: date(f, 'event-time'),
        evidence: str(f, 'evidence') ?? '',
        raw,
        filename: '',
        report: Buffer.alloc(0),
      });
      out(asJson ? json(SubmitComplaintResponse.toJSON(r)) : `${r.outcome}: ${r.reason} (${r.trusted ? 'trusted' : 'untrusted'})\n`);
      return r.outcome === 'rejected' ? 1 : 0;
    }
    case 'incident list': {
      const request = { state: str(f, 'state') ?? '', hostId: str(f, 'host') ?? '', customerId: str(f, 'customer') ?? '', limit: 0 };
      if (asJson) {
        out(json((await client.call<unknown, ListIncidentsResponse>('listIncidents', request)).incidents.map((i) => Incident.toJSON(i))));
        return 0;
      }
      const [r, desk] = await Promise.all([client.call<unknown, ListIncidentsResponse>('listIncidents', request), readDeskNow(client)]);
      out(incidentTable(r.incidents, desk));
      return 0;
    }
    case 'incident show': {
      const id = arg ?? need(f, 'id');
      const rawOf = str(f, 'raw');
      if (rawOf !== undefined) {
        // One raw report, on request: the complaint must be this incident's, so an id typed from another page is not shown by mistake.
        const r = await client.call<unknown, ComplaintRaw>('getComplaintRaw', { complaintId: rawOf });
        if (r.incidentId !== id) throw new CordonError('not_found', `complaint ${rawOf} is not one of incident ${id}'s`, { field: '--raw' });
        out(asJson ? json(ComplaintRaw.toJSON(r)) : renderRaw(r.raw));
        return 0;
      }
      if (asJson) {
        out(json(IncidentDetail.toJSON(await client.call<unknown, IncidentDetail>('getIncident', { id }))));
        return 0;
      }
      const [d, desk] = await Promise.all([client.call<unknown, IncidentDetail>('getIncident', { id }), readDeskNow(client)]);
      out(incidentTable(d.incident ? [d.incident] : [], desk));
      // What the host really does, not what was decided: an incident reads enforced while its cut may be unconfirmed.
      out(`\nenforcement on ${d.incident?.hostId ?? '-'}: ${describeObservation(d.host?.observed)}\n`);
      out(renderComplaints(d.complaints, desk));
      out('\nhistory:\n');
      out(renderTable(['AT', 'EVENT', 'FROM', 'TO', 'ACTOR', 'DETAIL'], d.events.map((e) => [e.at?.toISOString() ?? '', e.type, e.fromState || '-', e.toState, oneLine(e.actor), oneLine(e.detail)])));
      out(renderCustomerVoice(d, desk.now));
      return 0;
    }
    case 'incident answer': {
      const id = arg ?? need(f, 'id');
      const answers = (['ack', 'fixed', 'false-positive', 'plan'] as const).filter((a) => f[a] !== undefined && f[a] !== false);
      if (answers.length !== 1) throw new CordonError('invalid', 'give exactly one of --ack, --fixed, --false-positive, --plan DATE', { field: 'answer' });
      const answer = { ack: Answer.ANSWER_ACK, fixed: Answer.ANSWER_FIXED, 'false-positive': Answer.ANSWER_FALSE_POSITIVE, plan: Answer.ANSWER_PLAN }[answers[0]!];
      const i = await client.call<unknown, Incident>('answerIncident', { incidentId: id, answer, planDueAt: date(f, 'plan'), note: str(f, 'note') ?? '' });
      out(asJson ? json(Incident.toJSON(i)) : `${i.id}: ${i.state}\n`);
      return 0;
    }
    case 'incident verify':
    case 'incident reject-dispute':
    case 'incident dismiss':
    case 'incident release':
    case 'incident override-bmc': {
      // --agent-gone finishes a release its agent never confirmed; it needs a reason like every override.
      const agentGone = verb === 'release' && f['agent-gone'] === true;
      if (agentGone) need(f, 'reason');
      const decision = agentGone
        ? Decision.DECISION_RELEASE_AGENT_GONE
        : {
            verify: Decision.DECISION_VERIFY,
            'reject-dispute': Decision.DECISION_REJECT_DISPUTE,
            dismiss: Decision.DECISION_DISMISS,
            release: Decision.DECISION_RELEASE,
            'override-bmc': Decision.DECISION_OVERRIDE_BMC,
          }[verb as 'verify' | 'reject-dispute' | 'dismiss' | 'release' | 'override-bmc'];
      const i = await client.call<unknown, Incident>('decideIncident', { incidentId: arg ?? need(f, 'id'), decision, reason: str(f, 'reason') ?? '' });
      if (asJson) {
        out(json(Incident.toJSON(i)));
        return 0;
      }
      out(`${i.id}: ${i.state}\n`);
      if (i.state === 'releasing') {
        // Say what it waits for, so nobody reads the lift as done.
        const d = await client.call<unknown, HostDetail>('getHost', { id: i.hostId });
        out(`  the customer is told once the lift is confirmed; now: ${describeObservation(d.observed)}\n`);
        out(`  if the agent never returns: cordonctl incident release ${i.id} --agent-gone --reason R (switch port open first; the customer is told to clear the server through its console)\n`);
      }
      return 0;
    }
    case 'enforce': {
      const r = await client.call<unknown, EnforceResponse>('enforce', {
        incidentId: str(f, 'incident') ?? '',
        hostIds: (f.host as string[] | undefined) ?? [],
        customerId: str(f, 'customer') ?? '',
        action: actionFrom(f),
        reason: need(f, 'reason'),
      });
      out(asJson ? json(EnforceResponse.toJSON(r)) : r.approvalId ? `approval ${r.approvalId} requested: a second operator must run cordonctl approve ${r.approvalId}\n` : `enforcing: ${r.incidentIds.join(', ')}\n`);
      return 0;
    }
    case 'approve': {
      const r = await client.call<unknown, EnforceResponse>('approve', { approvalId: verb ?? need(f, 'id') });
      out(asJson ? json(EnforceResponse.toJSON(r)) : `approved ${r.approvalId}: enforcing ${r.incidentIds.join(', ')}\n`);
      return 0;
    }
    case 'approvals': {
      if (asJson) {
        out(json((await client.call<unknown, ListApprovalsResponse>('listApprovals', {})).approvals.map((a) => Approval.toJSON(a))));
        return 0;
      }
      const [r, desk] = await Promise.all([client.call<unknown, ListApprovalsResponse>('listApprovals', {}), readDeskNow(client)]);
      out(renderApprovals(r.approvals, desk));
      return 0;
    }
    case 'audit verify': {
      const r = await client.call<unknown, VerifyAuditResponse>('verifyAudit', {});
      out(asJson ? json(VerifyAuditResponse.toJSON(r)) : r.ok ? `audit chain OK (${r.rows} rows)\n` : `audit chain BROKEN at row ${r.firstBrokenId}: ${r.reason}\n`);
      return r.ok ? 0 : 1;
    }
    default:
      throw new CordonError('invalid', `unknown command ${JSON.stringify(words.join(' '))}; see cordonctl --help`, { field: 'command' });
  }
}
