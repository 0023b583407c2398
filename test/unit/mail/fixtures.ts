import { pino, type Logger } from 'pino';
import type { Incident } from '../../../controller/incidents/model.js';
import type { MailPayload } from '../../../controller/mail/OutboxSource.js';
import type { MailInput } from '../../../controller/mail/renderMail.js';

/** A complaint as an upstream really sends it: CRLF, non-ASCII in header and body, a dot-led line SMTP must stuff, a "From " line. */
export const RAW_CRLF =
  'Return-Path: <reports@cert.example>\r\n' +
  'From: CERT Beispiel <reports@cert.example>\r\n' +
  'To: abuse@hoster.example\r\n' +
  'Subject: Spam von 203.0.113.7 – Beschwerde\r\n' +
  'Date: Sun, 01 Mar 2026 10:00:00 +0100\r\n' +
  'MIME-Version: 1.0\r\n' +
  'Content-Type: text/plain; charset=utf-8\r\n' +
  'Content-Transfer-Encoding: 8bit\r\n' +
  '\r\n' +
  'Grüße, we received spam from 203.0.113.7 at 09:00 UTC. Ölkännchen 日本語\r\n' +
  '.\r\n' +
  '.a line starting with a dot\r\n' +
  'From the logs:\r\n' +
  '  Received: from web-01 (203.0.113.7)  \r\n';

/** The same report as a parser stored it with bare LF line ends and no final newline: SMTP would rewrite these as they are. */
export const RAW_LF = RAW_CRLF.replace(/\r\n/g, '\n').replace(/\n$/, '');

export const T0 = new Date('2026-03-01T09:30:00Z');
const h = (n: number) => new Date(T0.getTime() + n * 3_600_000);

export function sampleIncident(over: Partial<Incident> = {}): Incident {
  return {
    id: 'inc-20260301-a1b2c3d4',
    hostId: 'web-01',
    customerId: 'cust-7',
    category: 'spam',
    state: 'notified',
    trusted: true,
    openedAt: T0,
    notifiedAt: T0,
    ackDueAt: h(24),
    resolveDueAt: h(72),
    acknowledgedAt: undefined,
    answeredAt: undefined,
    escalatedAt: undefined,
    step: -1,
    actions: [],
    hold: undefined,
    closedAt: undefined,
    complaintCount: 1,
    established: false,
    overdue: false,
    openedBy: 'complaint',
    ...over,
  };
}

export const DESK: MailInput['desk'] = { from: 'abuse@hoster.example', replyTo: 'abuse-replies@hoster.example', name: 'Hoster Abuse Desk' };

export function samplePayload(over: Partial<MailPayload> = {}): MailPayload {
  return {
    template: 'notice',
    incident: sampleIncident(),
    host: { id: 'web-01', publicPrefixes: ['203.0.113.0/29', '2001:db8:7::/64'], bmc: { address: '10.255.1.7', protocol: 'ipmi' } },
    customer: { id: 'cust-7', name: 'Jürgen Müller', email: 'ops@customer.example' },
    complaint: { id: 'c-1', raw: RAW_CRLF, reporter: 'CERT Beispiel <reports@cert.example>', category: 'spam', receivedAt: T0 },
    actions: [],
    terminationReview: false,
    migrationDays: 30,
    ...over,
  };
}

export function sampleInput(over: Partial<MailInput> = {}): MailInput {
  return { ...samplePayload(), desk: DESK, ...over };
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A pino logger whose lines land in an array, to assert on what was logged. */
export function recordingLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { log, lines };
}
