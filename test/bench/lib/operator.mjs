// The operator's side of decision-latency.mjs, run in the management namespace
// (where the controller listens): DeskService calls over mutual TLS, one JSON
// line in, one JSON line out, each call stamped with CLOCK_MONOTONIC
// (process.hrtime) just before the request leaves and when the answer arrives.
//   operator.mjs ADDRESS SERVER_NAME PKI_DIR OPERATOR [APPROVER]
// A cut without a complaint behind it needs a second operator (four eyes):
// with APPROVER, an Enforce that asks for approval is approved by APPROVER
// at once, and the decision timed (t0) is that approval.
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DeskClient } from '../../../dist/controller/cli/deskClient.js';
import { loadTlsMaterial } from '../../../dist/proto/runtime/tls.js';

const [address, serverName, pki, operator, approver] = process.argv.slice(2);
const deskOf = (name) =>
  new DeskClient({ address, serverName, tls: loadTlsMaterial({ ca: join(pki, 'ca.crt'), cert: join(pki, `operator-${name}.crt`), key: join(pki, `operator-${name}.key`) }) }, { timeoutMs: 10_000 });
const desk = deskOf(operator);
const second = approver ? deskOf(approver) : undefined;
const now = () => process.hrtime.bigint().toString();
const ANSWER_FIXED = 2;
const DECISION_RELEASE = 4;
const actions = {
  isolate: { $case: 'isolate', value: {} },
  smtp_block: { $case: 'smtpBlock', value: { ports: [], allowedRelays: [] } },
};

async function handle(req) {
  switch (req.op) {
    case 'health':
      return { status: await desk.checkHealth('') };
    case 'enforce': {
      const t0 = now();
      const r = await desk.call('enforce', {
        incidentId: '',
        hostIds: [req.hostId],
        customerId: '',
        action: { id: '', incidentId: '', reason: '', action: actions[req.action] },
        reason: 'decision-latency bench',
      });
      if (!r.approvalId) return { t0, t1: now(), incidentId: r.incidentIds[0] };
      if (!second) throw new Error(`approval ${r.approvalId} requested and no approver given`);
      const a0 = now();
      const a = await second.call('approve', { approvalId: r.approvalId });
      return { t0: a0, t1: now(), incidentId: a.incidentIds[0] };
    }
    case 'release': {
      // The customer confirms the fix first; the decision measured is the operator's release.
      await desk.call('answerIncident', { incidentId: req.incidentId, answer: ANSWER_FIXED, planDueAt: undefined, note: 'the customer confirmed the fix (benchmark)' });
      const t0 = now();
      const r = await desk.call('decideIncident', { incidentId: req.incidentId, decision: DECISION_RELEASE, reason: '' });
      return { t0, t1: now(), state: r.state };
    }
    case 'incident': {
      const d = await desk.call('getIncident', { id: req.incidentId });
      return { state: d.incident?.state };
    }
    case 'agents': {
      const r = await desk.listAgents();
      return { agents: r.agents.map((a) => ({ hostId: a.hostId, state: a.state })) };
    }
    default:
      throw new Error(`unknown op ${req.op}`);
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const req = JSON.parse(line);
  handle(req)
    .then((res) => process.stdout.write(JSON.stringify({ id: req.id, ok: true, ...res }) + '\n'))
    .catch((err) => process.stdout.write(JSON.stringify({ id: req.id, ok: false, error: String(err?.message ?? err) }) + '\n'));
});
rl.on('close', () => {
  desk.close();
  second?.close();
  process.exit(0);
});
