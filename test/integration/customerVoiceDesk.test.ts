import { randomBytes, createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../controller/clock.js';
import { CustomerLinks, type CustomerLinkSettings } from '../../controller/customer/CustomerLinks.js';
import { tokenOf } from '../../controller/customer/linkTokens.js';
import type { Incident } from '../../controller/incidents/model.js';
import { runController, type Controller } from '../../controller/runController.js';
import { openTestStore } from '../helpers/testStore.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { cordonctl } from '../helpers/cordonctl.js';
import { TestPki } from '../helpers/pki.js';

/**
 * The operator's side of the customer's voice, through the built cordonctl
 * against a real controller (gRPC over mutual TLS, a SQLite file): what an
 * operator records for a customer keeps the customer's words, appeals come
 * first in the queue and are decided with a reason, evidence files come
 * down only to the abuse desk and never over an existing file, and a
 * re-sent link kills the old one. Roles are tried from the wrong side.
 */
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = new Date('2026-11-02T09:00:00Z');

interface QueueJson {
  incident: { id: string; state: string };
  why: string;
  reason: string;
  since: string;
  unseen: number;
  hostId?: string;
}

describe("the customer's voice at the desk", () => {
  let pki: TestPki;
  let work: string;
  let controller: Controller;
  const clock = new ManualClock(T0);
  const settings: CustomerLinkSettings = { secret: randomBytes(32), publicUrl: 'https://customers.hoster.example', ttlDays: 30 };
  const ctl = cordonctl(() => controller.server.port, () => pki.dir);
  /** cordonctl with the feed's certificate instead of an operator's. */
  const asFeed = (...args: string[]) => ctl('olga', '--cert', join(pki.dir, 'feed-shadow.crt'), '--key', join(pki.dir, 'feed-shadow.key'), ...args);

  const incident = async (id: string): Promise<Incident> => (await controller.store.incidents.get(id))!;
  const open = async (ip: string, reporterKind = 'upstream'): Promise<string> => {
    const r = await controller.service.submitComplaint(
      { ip, category: 'spam', reporter: 'fbl@upstream.example', reporterKind, eventTime: undefined, evidence: 'spam from the host', raw: 'spam report' },
      'olga',
    );
    expect(r.outcome).toBe('opened');
    await controller.service.apply(r.incidentId!, { type: 'notice_sent' }, 'mail');
    return r.incidentId!;
  };
  /** The acknowledge deadline passes unanswered; the host confirms the SMTP block. */
  const enforce = async (id: string): Promise<void> => {
    const due = (await incident(id)).ackDueAt!;
    if (clock.now() <= due) clock.set(new Date(due.getTime() + 1000));
    await controller.service.apply(id, { type: 'deadline', dueAt: due }, 'clock');
    await controller.service.apply(id, { type: 'host_applied' }, 'agent');
    expect(await incident(id)).toMatchObject({ state: 'enforced', actions: [{ kind: 'smtp_block' }] });
  };
  /** The customer contests the restriction on the page, with a file. */
  const appeal = async (id: string, words: string, file?: { id: string; name: string; bytes: Buffer }) => {
    const messageId = `msg-page-${id}`;
    await controller.service.apply(id, { type: 'customer_false_positive' }, 'customer', {
      detail: { channel: 'page', sourceAddress: '198.51.100.7' },
      then: async (_b, after, now) => {
        await controller.store.customerMessages.insert({
          id: messageId, incidentId: after.id, at: now, channel: 'page', kind: 'answer', answer: 'false_positive', planDueAt: undefined, body: words, actor: 'customer',
          sourceAddress: '198.51.100.7', userAgent: 'Mozilla/5.0 (X11; Linux x86_64)', messageId: undefined, submissionId: `sub-${id}`, rawSha256: undefined,
        });
        if (file) await controller.store.customerMessages.addFile({ id: file.id, messageId, incidentId: after.id, filename: file.name, contentType: 'text/csv' }, file.bytes);
      },
    });
    return messageId;
  };
  /** The queue's incident entries. No agent runs here, so enforced hosts also wait as agent_unreachable host entries (deskQueue.test.ts is about those). */
  const queue = async (who = 'vic'): Promise<QueueJson[]> => {
    const r = await ctl(who, 'incident', 'queue', '--json');
    expect(r.code, r.err).toBe(0);
    return (JSON.parse(r.out) as QueueJson[]).filter((e) => !e.hostId);
  };
  const smtpBlocked = async (hostId: string) => (await controller.store.desired.get(hostId)).enforcements.map((e) => e.action.kind);

  const ids = {} as { noted: string; rejected: string; accepted: string; bounced: string; held: string; pageMessage: string };
  const evidence = Buffer.from('address,opted_in_at,ip\nalice@example.net,2026-10-01T10:00:00Z,192.0.2.44\n');

  beforeAll(async () => {
    pki = new TestPki();
    pki.operator('olga', 'abuse_operator');
    pki.operator('omar', 'abuse_operator');
    pki.operator('tess', 'technician');
    pki.operator('vic', 'viewer');
    pki.run('issue-feed', 'shadow');
    work = mkdtempSync(join(tmpdir(), 'cordon-voice-'));
    const store = await openTestStore(join(work, 'cordon.db'));
    await store.customers.upsert({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
    for (let n = 1; n <= 5; n++) await store.hosts.add({ id: `web-0${n}`, customerId: 'acme', publicPrefixes: [`203.0.113.${n}/32`], managementAddress: `10.255.0.${n}` });
    controller = await runController(controllerSettings(pki, store, { clock, customerLinks: settings }));
  });
  afterAll(async () => {
    await controller?.stop(500);
    await controller?.store.close();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("keeps what the customer said with an answer an operator records, and shows it", async () => {
    const id = (ids.noted = await open('203.0.113.1'));
    const bare = await ctl('olga', 'incident', 'answer', id, '--fixed');
    expect(bare.code).toBe(2);
    expect(bare.err).toMatch(/^cordonctl: note: a fixed recorded by an operator needs what the customer said\n$/);
    const long = await ctl('olga', 'incident', 'answer', id, '--false-positive', '--note', 'x'.repeat(20_001));
    expect(long.err).toMatch(/note: at most 20000 characters, got 20001/);
    expect((await incident(id)).state).toBe('notified');
    expect(await controller.store.customerMessages.listByIncident(id)).toEqual([]);

    const words = 'Closed the open relay on port 25\nand rotated the mailbox passwords.';
    expect(await ctl('olga', 'incident', 'answer', id, '--fixed', '--note', words)).toMatchObject({ code: 0, out: `${id}: customer_resolved\n` });
    const [m, ...rest] = await controller.store.customerMessages.listByIncident(id);
    expect(rest).toEqual([]);
    expect(m).toMatchObject({ channel: 'operator', kind: 'answer', answer: 'fixed', body: words, actor: 'customer via olga', seenBy: 'olga' });
    const events = await controller.store.events.list(id);
    expect(events.at(-1)).toMatchObject({ type: 'customer_fixed', actor: 'customer via olga', detail: { channel: 'operator', note: words } });

    const shown = await ctl('vic', 'incident', 'show', id);
    expect(shown.code).toBe(0);
    expect(shown.out).toContain('customer messages (1):');
    expect(shown.out).toContain(`answer fixed via operator by customer via olga`);
    expect(shown.out).toContain('    | Closed the open relay on port 25\n    | and rotated the mailbox passwords.');
    expect(shown.out).toMatch(/seen by olga at /);
    const json = JSON.parse((await ctl('vic', 'incident', 'show', id, '--json')).out) as { messages: { body: string; channel: string }[] };
    expect(json.messages).toEqual([expect.objectContaining({ body: words, channel: 'operator' })]);
  });

  it('puts appeals first in the queue; a rejected appeal keeps the restriction, an accepted one lifts it', async () => {
    ids.rejected = await open('203.0.113.2');
    ids.accepted = await open('203.0.113.3');
    ids.bounced = await open('203.0.113.4');
    await controller.service.apply(ids.bounced, { type: 'notice_bounced', reason: '550 5.1.1 no such user' }, 'mail');
    // Only an individual's word: escalated at its deadline, but held for an operator.
    ids.held = await open('203.0.113.5', 'individual');
    const heldDue = (await incident(ids.held)).ackDueAt!;
    await enforce(ids.rejected);
    await enforce(ids.accepted);
    // The clock already passed every acknowledge deadline opened with these (enforce moved it); the scheduler may have fired first.
    expect(clock.now().getTime()).toBeGreaterThan(heldDue.getTime());
    await controller.service.apply(ids.held, { type: 'deadline', dueAt: heldDue }, 'clock');
    expect(await incident(ids.held)).toMatchObject({ state: 'escalated', hold: 'untrusted_reporter', actions: [] });
    clock.advance(HOUR);
    ids.pageMessage = await appeal(ids.rejected, 'This is our double opt-in newsletter; the log is attached.', { id: 'file-optin', name: 'optin-log.csv', bytes: evidence });
    clock.advance(HOUR);
    // A customer's words reach an operator's terminal: escape sequences in them must arrive defused.
    await appeal(ids.accepted, 'Those mails were password resets\u001b]0;owned\u0007\u001b[2J our users asked for.');

    const q = await queue();
    expect(q.map((e) => [e.incident.id, e.why])).toEqual([
      [ids.rejected, 'appealed'],
      [ids.accepted, 'appealed'],
      [ids.noted, 'customer_resolved'],
      [ids.held, 'held'],
      [ids.bounced, 'notice_bounced'],
    ]);
    expect(q[3]).toMatchObject({ reason: 'escalated, held: untrusted reporter', since: (await incident(ids.held)).escalatedAt!.toISOString() });
    expect(q[0]).toMatchObject({ unseen: 1, since: new Date(clock.now().getTime() - HOUR).toISOString(), reason: expect.stringMatching(/contests the restriction \(smtp_block/) });
    const table = (await ctl('vic', 'incident', 'queue')).out.split('\n');
    expect(table[0]).toMatch(/^INCIDENT\s+HOST\s+STATE\s+WHY\s+SINCE/);
    expect(table[1]).toMatch(new RegExp(`^${ids.rejected}\\s+web-02\\s+appealed\\s+appealed\\s.*contests the restriction`));
    expect(table.filter((l) => / agent_unreachable /.test(l))).toHaveLength(2);
    expect(table.at(-2)).toMatch(/notice_bounced .*the notice bounced/);
    // Its deadlines passed with the others' while it waited: nothing escalated it.
    expect(await incident(ids.bounced)).toMatchObject({ state: 'notified', overdue: false, actions: [] });

    const noReason = await ctl('olga', 'incident', 'reject-dispute', ids.rejected);
    expect(noReason.code).toBe(2);
    expect(noReason.err).toMatch(/reason: incident .* is appealed: deciding the appeal needs a reason/);
    expect((await incident(ids.rejected)).state).toBe('appealed');
    const viewer = await ctl('vic', 'incident', 'reject-dispute', ids.rejected, '--reason', 'x');
    expect(viewer.err).toMatch(/DecideIncident needs role abuse_operator or above; vic is viewer/);

    expect(await ctl('olga', 'incident', 'reject-dispute', ids.rejected, '--reason', 'the trap hits were not opted in')).toMatchObject({ code: 0, out: `${ids.rejected}: enforced\n` });
    expect(await incident(ids.rejected)).toMatchObject({ state: 'enforced', actions: [{ kind: 'smtp_block' }] });
    expect(await smtpBlocked('web-02')).toEqual(['smtp_block']);
    expect((await controller.store.events.list(ids.rejected)).at(-1)).toMatchObject({ type: 'operator_reject_dispute', actor: 'olga', detail: { reason: 'the trap hits were not opted in' } });

    expect(await smtpBlocked('web-03')).toEqual(['smtp_block']);
    expect(await ctl('omar', 'incident', 'verify', ids.accepted, '--reason', 'reset mails confirmed in their logs')).toMatchObject({ code: 0, out: `${ids.accepted}: dismissed\n` });
    expect(await incident(ids.accepted)).toMatchObject({ state: 'dismissed', actions: [] });
    expect(await smtpBlocked('web-03')).toEqual([]);

    // Decided, the appeals leave the queue; the rejected one's page message still waits to be read.
    const after = await queue();
    expect(after.map((e) => [e.incident.id, e.why])).toEqual([
      [ids.noted, 'customer_resolved'],
      [ids.held, 'held'],
      [ids.rejected, 'unseen_messages'],
      [ids.accepted, 'unseen_messages'],
      [ids.bounced, 'notice_bounced'],
    ]);
  });

  it('shows the customer page message with its origin and file; marks messages seen (audited)', async () => {
    const shown = (await ctl('vic', 'incident', 'show', ids.rejected)).out;
    expect(shown).toMatch(/answer false_positive via page by customer \(from 198\.51\.100\.7, agent "Mozilla\/5\.0 \(X11; Linux x86_64\)"\)/);
    expect(shown).toContain('UNSEEN');
    expect(shown).toContain('optin-log.csv');
    expect(shown).toContain(createHash('sha256').update(evidence).digest('hex'));
    const other = (await ctl('vic', 'incident', 'show', ids.accepted)).out;
    expect(other).toContain('| Those mails were password resets?]0;owned??[2J our users asked for.');
    expect(other).not.toMatch(/[\u001b\u0007]/);
    const json = JSON.parse((await ctl('vic', 'incident', 'show', ids.rejected, '--json')).out) as { files: Record<string, unknown>[] };
    expect(json.files).toEqual([expect.objectContaining({ id: 'file-optin', filename: 'optin-log.csv', size: String(evidence.length) })]);
    expect(json.files[0]!.content ?? '').toBe('');

    expect((await ctl('vic', 'incident', 'seen', ids.rejected)).err).toMatch(/MarkMessagesSeen needs role abuse_operator/);
    const wrong = await ctl('olga', 'incident', 'seen', ids.rejected, '--message', 'msg-page-' + ids.accepted);
    expect(wrong).toMatchObject({ code: 1, err: expect.stringMatching(/messageId: incident .* has no message/) });
    expect(await ctl('olga', 'incident', 'seen', ids.rejected, '--message', ids.pageMessage)).toMatchObject({ code: 0, out: `${ids.rejected}: marked seen: ${ids.pageMessage}\n` });
    expect((await ctl('olga', 'incident', 'seen', ids.rejected, '--message', ids.pageMessage)).err).toMatch(/already seen by olga/);
    expect((await ctl('omar', 'incident', 'seen', ids.accepted)).out).toBe(`${ids.accepted}: marked seen: msg-page-${ids.accepted}\n`);
    expect((await ctl('omar', 'incident', 'seen', ids.accepted)).out).toBe(`${ids.accepted}: no unseen message\n`);
    const audit = await controller.store.audit.list({ subject: ids.rejected });
    expect(audit.filter((a) => a.action === 'incident.messages_seen')).toEqual([expect.objectContaining({ actor: 'olga', detail: { messages: [ids.pageMessage] } })]);
    expect((await queue()).map((e) => e.incident.id)).toEqual([ids.noted, ids.held, ids.bounced]);
  });

  it('saves an evidence file for the abuse desk only: mode 0600, never over an existing path', async () => {
    const path = join(work, 'optin.csv');
    expect((await ctl('vic', 'incident', 'file', ids.rejected, 'file-optin', '-o', path)).err).toMatch(/GetCustomerFile needs role abuse_operator or above; vic is viewer/);
    expect((await ctl('olga', 'incident', 'file', ids.accepted, 'file-optin', '-o', path)).err).toMatch(/fileId: incident .* has no file "file-optin"/);
    expect((await ctl('olga', 'incident', 'file', ids.rejected, 'file-optin')).err).toMatch(/--output: is required/);
    const saved = await ctl('olga', 'incident', 'file', ids.rejected, 'file-optin', '-o', path);
    expect(saved).toMatchObject({ code: 0, out: expect.stringMatching(/file-optin: optin-log\.csv \(text\/csv, \d+ bytes, sha256 [0-9a-f]{64}\) saved to /) });
    expect(readFileSync(path)).toEqual(evidence);
    expect(statSync(path).mode & 0o777).toBe(0o600);

    writeFileSync(path, 'the operator notes', { mode: 0o644 });
    const again = await ctl('olga', 'incident', 'file', ids.rejected, 'file-optin', '-o', path);
    expect(again).toMatchObject({ code: 1, err: expect.stringMatching(/--output: .* exists; choose another path or add --force/) });
    expect(readFileSync(path, 'utf8')).toBe('the operator notes');
    expect((await ctl('olga', 'incident', 'file', ids.rejected, 'file-optin', '-o', path, '--force')).code).toBe(0);
    expect(readFileSync(path)).toEqual(evidence);
    expect(statSync(path).mode & 0o777).toBe(0o600);

    // A symlink planted at the path (dangling or not) is not followed.
    const victim = join(work, 'victim');
    const trap = join(work, 'trap.csv');
    symlinkSync(victim, trap);
    expect((await ctl('olga', 'incident', 'file', ids.rejected, 'file-optin', '-o', trap)).err).toMatch(/exists/);
    expect(() => lstatSync(victim)).toThrow();
    // Every download is audited, whether cordonctl then saved it or refused the path.
    const reads = (await controller.store.audit.list({ subject: ids.rejected })).filter((a) => a.action === 'incident.file_read');
    expect(reads.map((a) => a.actor)).toEqual(['olga', 'olga', 'olga', 'olga']);
  });

  it('resend-link revokes every live link and queues the notice again; revoke-link only revokes', async () => {
    const id = ids.rejected;
    const links = new CustomerLinks(controller.store, settings);
    const old = await links.issue(await incident(id), 'ops@acme.example', 'mail', clock.now());
    const token = tokenOf(settings.secret, old);
    expect(await links.resolve(token, clock.now())).toMatchObject({ link: { id: old } });
    const notices = async () => (await controller.store.outbox.list()).filter((m) => m.kind === 'mail' && m.incidentId === id && (m.payload as { template?: string }).template === 'notice').length;
    const before = await notices();
    // The notice queued at open made a link of its own (the mail effect): every live one goes.
    const liveBefore = (await controller.store.customerLinks.listByIncident(id)).filter((l) => l.revokedAt === undefined).map((l) => l.id);
    expect(liveBefore).toContain(old);

    for (const who of ['vic', 'tess']) expect((await ctl(who, 'incident', 'resend-link', id)).err).toMatch(/ResendLink needs role abuse_operator or above/);
    expect(await links.resolve(token, clock.now())).toBeDefined();

    const r = await ctl('olga', 'incident', 'resend-link', id, '--reason', 'the customer deleted the mail');
    expect(r).toMatchObject({ code: 0, out: `${id}: ${liveBefore.length} live link${liveBefore.length === 1 ? '' : 's'} revoked; the notice is queued again with a new link\n` });
    expect(await links.resolve(token, clock.now())).toBeUndefined();
    expect(await controller.store.customerLinks.get(old)).toMatchObject({ revokedBy: 'olga', revokedAt: clock.now() });
    expect(await notices()).toBe(before + 1);
    const events = (await controller.store.events.list(id)).slice(-2);
    expect(events.map((e) => e.type)).toEqual(['links_revoked', 'mail_resent']);
    expect(events[0]).toMatchObject({ actor: 'olga', detail: { reason: 'the customer deleted the mail', revoked: liveBefore.length, resend: true } });
    const audit = (await controller.store.audit.list({ subject: id })).filter((a) => a.action === 'incident.links_revoked' || a.action === 'incident.mail_resent');
    expect(audit.map((a) => [a.action, a.actor])).toEqual([['incident.links_revoked', 'olga'], ['incident.mail_resent', 'olga']]);
    // The re-sent notice carries a new link, made for the customer's current contact, that opens the page.
    const live = (await controller.store.customerLinks.listByIncident(id)).filter((l) => l.revokedAt === undefined);
    expect(live).toHaveLength(1);
    expect(liveBefore).not.toContain(live[0]!.id);
    expect(live[0]).toMatchObject({ contact: 'ops@acme.example' });
    expect(await links.resolve(tokenOf(settings.secret, live[0]!.id), clock.now())).toMatchObject({ link: { id: live[0]!.id } });

    // The desk shows links, never their tokens.
    const shown = (await ctl('vic', 'incident', 'show', id, '--json')).out;
    expect(JSON.parse(shown).links).toContainEqual(expect.objectContaining({ id: old, revokedBy: 'olga', contact: 'ops@acme.example' }));
    expect(shown).not.toContain(token);
    expect(shown).not.toContain((await controller.store.customerLinks.get(old))!.tokenHash);

    const fresh = await links.issue(await incident(id), 'ops@acme.example', 'mail', clock.now());
    expect((await ctl('olga', 'incident', 'revoke-link', id)).err).toMatch(/--reason: is required/);
    const revoked = await ctl('olga', 'incident', 'revoke-link', id, '--reason', 'the mailbox was compromised', '--json');
    const body = JSON.parse(revoked.out) as { revoked: number; noticeQueued?: boolean };
    expect(body.revoked).toBe(live.length + 1);
    expect(body.noticeQueued ?? false).toBe(false);
    expect(await links.resolve(tokenOf(settings.secret, fresh), clock.now())).toBeUndefined();
    expect(await notices()).toBe(before + 1);
  });

  it('re-sends a link for an incident closed longer than links live, and says it will not open the page', async () => {
    clock.advance(31 * DAY);
    const r = await ctl('olga', 'incident', 'resend-link', ids.accepted);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\nnote: the incident closed .*, more than 30 days ago: a link to it no longer opens the page\n$/);
  });

  it('refuses bad input with one line naming the field and its limit, and changes nothing', async () => {
    const linksBefore = await controller.store.customerLinks.listByIncident(ids.rejected);
    const auditBefore = (await controller.store.audit.list({ subject: ids.rejected })).length;
    const cases: [string[], number, RegExp][] = [
      [['incident', 'resend-link', 'inc-nope'], 1, /incidentId: no incident "inc-nope"/],
      [['incident', 'revoke-link', ids.rejected, '--reason', 'r'.repeat(2001)], 2, /reason: at most 2000 characters, got 2001/],
      [['incident', 'queue', '--limit', '5000'], 2, /limit: at most 1000, got 5000/],
      [['incident', 'queue', '--limit', 'ten'], 2, /--limit: "ten" is not a count/],
      [['incident', 'file', ids.rejected], 2, /--output: is required/],
      [['incident', 'seen'], 2, /incident id: is required/],
      [['incident', 'answer', ids.bounced, '--plan', '2027-01-01T00:00:00Z'], 2, /note: a plan recorded by an operator needs what the customer said/],
    ];
    for (const [args, code, message] of cases) {
      const r = await ctl('olga', ...args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.err.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.err, args.join(' ')).toMatch(message);
    }
    expect(await controller.store.customerLinks.listByIncident(ids.rejected)).toEqual(linksBefore);
    expect((await controller.store.audit.list({ subject: ids.rejected })).length).toBe(auditBefore);
  });

  it('keeps feed certificates out of every one of these calls', async () => {
    for (const args of [
      ['incident', 'show', ids.rejected],
      ['incident', 'queue'],
      ['incident', 'seen', ids.rejected],
      ['incident', 'file', ids.rejected, 'file-optin', '-o', join(work, 'feed.csv')],
      ['incident', 'resend-link', ids.rejected],
      ['incident', 'revoke-link', ids.rejected, '--reason', 'x'],
      ['incident', 'answer', ids.bounced, '--ack'],
    ]) {
      const r = await asFeed(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.err).toMatch(/is not open to feed certificates/);
    }
  });
});
