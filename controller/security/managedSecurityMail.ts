import { CordonError } from '../../proto/runtime/CordonError.js';
import { blocks, bullets, oneLine, paragraph, utc } from '../mail/plainText.js';
import { urlLine } from '../mail/mailBlocks.js';
import type { MailInput, RenderedMail } from '../mail/renderMail.js';

export const MANAGED_SECURITY = 'managed_security';

/**
 * The outbox row of a managed-security mail to a host's customer: new
 * listening sockets, or sources banned for brute force. No incident: this
 * is a service the customer bought, not an abuse complaint. The page link
 * is made at send time from the host and customer ids, never stored.
 */
export interface ManagedSecurityMailPayload {
  template: typeof MANAGED_SECURITY;
  customer: { id: string; name: string; email: string };
  host: { id: string };
  at: Date;
  sockets?: { protocol: string; address: string; port: number; process: string; pid: number }[] | undefined;
  bans?: { address: string; services: string[]; until: Date; offence: number }[] | undefined;
}

/** Whether an outbox payload is one of these (checked before the incident mails' parser, which would refuse it). */
export function isManagedSecurityMail(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && (raw as { template?: unknown }).template === MANAGED_SECURITY;
}

/** Renders the mail. Pure: a resend is the same message. */
export function renderManagedSecurityMail(p: ManagedSecurityMailPayload, desk: MailInput['desk'], pageUrl: string | undefined): RenderedMail {
  const tag = `[Cordon security ${p.host.id}]`;
  const parts: string[] = [];
  if (p.sockets?.length) {
    parts.push(
      paragraph(`On ${utc(p.at)} your server ${p.host.id} began listening on its public addresses on ${p.sockets.length === 1 ? 'a socket' : `${p.sockets.length} sockets`} that ${p.sockets.length === 1 ? 'was' : 'were'} not there before:`),
      bullets(p.sockets.map((s) => `${s.protocol} ${s.address.includes(':') ? `[${s.address}]` : s.address}:${s.port}, ${s.process ? `process ${s.process} (pid ${s.pid})` : 'process not known'}`)),
      paragraph('If you started this yourself, accept it on the page below and we will not mention it again. If you did not, a program may have been installed without you: look at it now.'),
    );
  }
  if (p.bans?.length) {
    parts.push(
      paragraph(`Your server ${p.host.id}'s brute-force protection banned ${p.bans.length === 1 ? 'a source' : `${p.bans.length} sources`} that opened new connections to it too fast; ${p.bans.length === 1 ? 'it is' : 'they are'} refused on every port until:`),
      bullets(p.bans.map((b) => `${b.address} (${b.services.join(', ') || 'guarded services'}), until ${utc(b.until)}, ban no. ${b.offence}`)),
      paragraph('If one of them is yours (a monitoring service, your office), lift the ban on the page below. We send at most one such mail an hour per server.'),
    );
  }
  return {
    subject: oneLine(`${tag} ${p.sockets?.length ? 'New listening socket on your server' : 'Brute force banned on your server'} ${p.host.id}`),
    text: blocks(
      `Dear ${p.customer.name},`,
      ...parts,
      pageUrl ? blocks(paragraph('What your server is protected from, the bans in force and the sockets seen:'), urlLine(pageUrl)) : paragraph(`Reply to this mail, or write to ${desk.replyTo}, for the details.`),
      `-- \n${desk.name}\n${desk.replyTo}\n${paragraph(`Managed security of server ${p.host.id}, account ${p.customer.id}.`)}`,
    ),
    attachments: [],
    headers: { 'X-Cordon-Customer': oneLine(p.customer.id), 'X-Cordon-Host': oneLine(p.host.id), 'X-Cordon-Template': MANAGED_SECURITY, 'Auto-Submitted': 'auto-generated' },
  };
}

/** Reads a stored row back (dates from ISO strings); `invalid` naming the field, never retried. */
export function parseManagedSecurityPayload(raw: unknown): ManagedSecurityMailPayload {
  const invalid = (field: string, what: string) => new CordonError('invalid', `outbox mail payload: ${field} ${what}`, { field });
  const o = raw as Record<string, unknown>;
  if (o?.template !== MANAGED_SECURITY) throw invalid('template', `is not ${MANAGED_SECURITY}`);
  const c = o.customer as Record<string, unknown> | undefined;
  if (typeof c?.id !== 'string' || typeof c.name !== 'string' || typeof c.email !== 'string') throw invalid('customer', 'is not a customer');
  const h = o.host as Record<string, unknown> | undefined;
  if (typeof h?.id !== 'string') throw invalid('host', 'is not a host');
  const date = (v: unknown, field: string) => {
    const d = v instanceof Date ? v : typeof v === 'string' ? new Date(v) : undefined;
    if (!d || Number.isNaN(d.getTime())) throw invalid(field, 'is not a date');
    return d;
  };
  const list = (v: unknown, field: string) => {
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) throw invalid(field, 'is not a list');
    return v as Record<string, unknown>[];
  };
  return {
    template: MANAGED_SECURITY,
    customer: { id: c.id, name: c.name, email: c.email },
    host: { id: h.id },
    at: date(o.at, 'at'),
    sockets: list(o.sockets, 'sockets')?.map((s) => ({ protocol: String(s.protocol), address: String(s.address), port: Number(s.port), process: String(s.process ?? ''), pid: Number(s.pid) || 0 })),
    bans: list(o.bans, 'bans')?.map((b, i) => ({ address: String(b.address), services: Array.isArray(b.services) ? b.services.map(String) : [], until: date(b.until, `bans[${i}].until`), offence: Number(b.offence) || 1 })),
  };
}
