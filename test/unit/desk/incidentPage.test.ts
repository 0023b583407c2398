import { describe, expect, it } from 'vitest';
import { Answer, Decision } from '../../../proto/gen/cordon/v1/desk.js';
import { CordonError } from '../../../proto/runtime/CordonError.js';
import { toIncidentMails } from '../../../controller/desk/incidentMails.js';
import type { OutboxMessage } from '../../../controller/store/OutboxRepo.js';
import { actionNotice } from '../../../controller/web/desk/actionNotice.js';
import { authenticationWords } from '../../../controller/web/desk/authenticationWords.js';
import { agoWords, deskTimeOf, dueWords, span } from '../../../controller/web/desk/deskTime.js';
import { parseAnswerForm, parseDecideForm, parseEnforceForm } from '../../../controller/web/desk/incidentForms.js';
import { attachmentDisposition } from '../../../controller/web/desk/registerIncidentRoutes.js';
import { samplePayload } from '../mail/fixtures.js';

const NOW = new Date('2026-11-02T09:00:00Z');
const H = 3_600_000;

/** The refusal a call throws: its field and message. */
function refusal(f: () => unknown): { field: string | undefined; message: string } {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(CordonError);
    return { field: (err as CordonError).field, message: (err as CordonError).message };
  }
  throw new Error('no refusal');
}

describe('the incident page, pure parts', () => {
  it('reads times on the incident clock and says so only when it runs apart', () => {
    const wall = NOW;
    const drill = deskTimeOf({ now: new Date(NOW.getTime() + 2 * 24 * H), drill: true, offsetSeconds: 0n }, wall);
    expect(drill).toMatchObject({ drill: true, apart: true, offsetSeconds: 172_800 });
    expect(dueWords(new Date(drill.now.getTime() + 3 * H), drill)).toBe('due in 3 h, incident clock');
    expect(dueWords(new Date(drill.now.getTime() - 3 * 86_400_000), drill)).toBe('overdue by 3 d, incident clock');
    expect(agoWords(new Date(drill.now.getTime() - 90_000), drill)).toBe('90 s ago, incident clock');
    const live = deskTimeOf({ now: new Date(NOW.getTime() + 2_000), drill: false, offsetSeconds: 2n }, wall);
    expect(live.apart).toBe(false);
    expect(dueWords(new Date(live.now.getTime() + 30 * 60_000), live)).toBe('due in 30 min');
    expect([span(45), span(600), span(5 * 3600), span(3 * 86_400)]).toEqual(['45 s', '10 min', '5 h', '3 d']);
  });

  it('words a DKIM-trusted report check by check, an untrusted one, and an unreadable record never as trusted', () => {
    const dkim = authenticationWords(
      JSON.stringify({
        trusted: true, via: 'dkim', reporterId: 'spamcop', reporterName: 'SpamCop', reporterKind: 'upstream', domain: 'example.net', reason: 'aligned signature of a registered reporter',
        checks: [{ method: 'dkim', result: 'pass', domain: 'example.net' }, { method: 'spf', result: 'softfail', domain: 'example.net' }, { method: 'dmarc', result: 'pass', domain: 'example.net' }, { method: 'registry', result: 'pass', detail: 'spamcop' }],
      }),
    );
    expect(dkim.verdict).toBe('Trusted: authenticated as SpamCop (spamcop, upstream) by a DKIM signature aligned with the From domain.');
    expect(dkim.reason).toBe('aligned signature of a registered reporter');
    expect(dkim.checks).toEqual(['DKIM: pass for d=example.net', 'SPF: softfail for example.net', 'DMARC: pass for example.net', 'Registry: pass (spamcop)']);
    expect(authenticationWords(JSON.stringify({ trusted: false, via: 'none', reason: 'no DKIM signature', checks: [{ method: 'dkim', result: 'none' }] }))).toMatchObject({
      verdict: 'Not authenticated: no check vouched for the report.',
      reason: 'no DKIM signature',
      checks: ['DKIM: none'],
    });
    expect(authenticationWords(JSON.stringify({ trusted: false, via: 'dkim', reporterId: 'someone', reason: 'kind individual is not trusted' })).verdict).toBe(
      'Authenticated by a DKIM signature aligned with the From domain as someone, but not trusted.',
    );
    expect(authenticationWords('{not json').verdict).toMatch(/cannot be read; the complaint counts as not authenticated/);
    expect(authenticationWords('"trusted"').verdict).toMatch(/cannot be read/);
    expect(authenticationWords('{}').verdict).toBe('No authentication was recorded for this complaint.');
  });

  it('lists an incident mail with its rendered subject, its addressee, and the bounce the history names', () => {
    const row = (id: number, payload: unknown, status: OutboxMessage['status'] = 'done'): OutboxMessage => ({
      id, kind: 'mail', incidentId: 'inc-1', payload: payload as never, status, dueAt: NOW, attempts: 1, lastError: undefined, lease: undefined, ref: '0'.repeat(32),
    });
    const notice = JSON.parse(JSON.stringify(samplePayload()));
    const mails = toIncidentMails(
      [row(7, { template: 'closed', nonsense: true }, 'dead'), row(3, notice)],
      [{ at: new Date(NOW.getTime() + H), detail: { kind: 'bounce', outbox: 3 } }, { at: NOW, detail: { kind: 'reply', outbox: 7 } }],
    );
    expect(mails.map((m) => m.id)).toEqual(['3', '7']);
    expect(mails[0]).toMatchObject({ kind: 'notice', to: samplePayload().customer.email, status: 'done', bouncedAt: new Date(NOW.getTime() + H), queuedAt: undefined });
    expect(mails[0]!.subject).toMatch(/^\[Cordon #inc-20260301-a1b2c3d4\] /);
    expect(mails[1]).toMatchObject({ kind: 'closed', status: 'dead', bouncedAt: undefined });
    expect(mails[1]!.subject).toMatch(/^\(cannot be rendered: /);
  });

  it('reads the forms into requests, naming the field of each refusal', () => {
    expect(parseDecideForm({ decision: 'override_bmc', reason: 'phoned the DC' })).toEqual({ decision: 'override_bmc', value: Decision.DECISION_OVERRIDE_BMC, reason: 'phoned the DC' });
    expect(refusal(() => parseDecideForm({ decision: '__proto__' }))).toMatchObject({ field: 'decision' });
    expect(refusal(() => parseDecideForm({ decision: ['verify', 'dismiss'] }))).toMatchObject({ field: 'decision' });
    expect(parseAnswerForm({ answer: 'plan', planDueAt: '2026-11-05T09:00', note: 'patching' })).toEqual({ answer: 'plan', value: Answer.ANSWER_PLAN, planDueAt: new Date('2026-11-05T09:00:00Z'), note: 'patching' });
    expect(parseAnswerForm({ answer: 'ack', planDueAt: 'ignored for an ack' }).planDueAt).toBeUndefined();
    expect(refusal(() => parseAnswerForm({ answer: 'plan', planDueAt: '2026-13-45T99:00' }))).toMatchObject({ field: 'planDueAt' });
    expect(refusal(() => parseAnswerForm({ answer: 'ack', note: 'x'.repeat(20_001) }))).toMatchObject({ field: 'note', message: 'note: at most 20000 characters, got 20001' });
    const throttle = parseEnforceForm({ action: 'throttle', rate: '2.5', reason: 'flood' });
    expect(throttle.enforcement.action).toEqual({ $case: 'throttle', value: { rateBps: 2_500_000n } });
    for (const rate of ['', '0', '-1', '1e3', '100001', 'Infinity', '1.2.3']) expect(refusal(() => parseEnforceForm({ action: 'throttle', rate, reason: 'r' })), rate).toMatchObject({ field: 'rate' });
    expect(parseEnforceForm({ action: 'nic_down', rate: 'ignored', reason: 'r' }).enforcement.action).toEqual({ $case: 'nicDown', value: {} });
    expect(refusal(() => parseEnforceForm({ action: 'switch_port_down', reason: 'r' }))).toMatchObject({ field: 'action' });
    expect(refusal(() => parseEnforceForm({ action: 'isolate', reason: 'r'.repeat(2001) }))).toMatchObject({ field: 'reason' });
  });

  it('says what an action did only from known values: a crafted query puts no words on the page', () => {
    const i = { id: 'inc-1', hold: '', pendingAction: '' } as never;
    expect(actionNotice({ done: 'verify' }, i)?.value).toContain('Verify: done.');
    expect(actionNotice({ done: 'enforce', approval: 'apr-0123abcd' }, i)?.value).toContain('grants approval apr-0123abcd');
    expect(actionNotice({ done: 'enforce', approval: 'apr-<script>' }, i)?.value).toContain('Enforce: done.');
    expect(actionNotice({ done: '<b>owned</b>' }, i)).toBeUndefined();
    expect(actionNotice({ done: 'toString' }, i)).toBeUndefined();
    expect(actionNotice({ done: 'enforce' }, { ...(i as object), hold: 'bmc_unreachable', pendingAction: 'isolate' } as never)?.value).toContain('held pending BMC. The cut (isolate)');
  });

  it('names a download so that no file name can end the header or pick a path', () => {
    expect(attachmentDisposition('report.pdf')).toBe(`attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`);
    const evil = attachmentDisposition('"a\r\nSet-Cookie: x=1;/../../etc/passwd');
    expect(evil).not.toMatch(/[\r\n]/);
    expect(evil.split('"')).toHaveLength(3);
    expect(attachmentDisposition('..hidden')).toMatch(/^attachment; filename="_hidden"/);
    expect(attachmentDisposition('Rechnung für März.txt')).toContain(`filename*=UTF-8''Rechnung%20f%C3%BCr%20M%C3%A4rz.txt`);
  });
});
