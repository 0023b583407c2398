import type { IntakeChannel } from '../../../controller/intake/trust/Authentication.js';
import { arfMail, DOMAINS, shadowserverCsv, sign, signingKeys, xarfMail, type DomainName, type SigningKey } from './reports.js';
import type { PlannedReport } from './scenario.js';

/**
 * Turns a planned report into the bytes a reporter (or a forger) sends, and
 * the channel it arrives by. Re-sends reuse the first copy's bytes, or
 * rebuild it with a new Message-ID (a forward), signed again or not.
 */

export interface Composed {
  bytes: Buffer;
  filename: string | undefined;
  channel: IntakeChannel;
  actor: string;
  /** What the report truly is: only a genuine report of a trusted reporter may be trusted. */
  shouldTrust: boolean;
}

/** The address a forged report claims and the tampered one's signed original names instead of its target. */
const DECOY_IP = '192.0.2.200';

const SENDERS: Record<'fbl' | 'cert' | 'noc' | 'rights', { from: string; org: string; domain: DomainName }> = {
  fbl: { from: `fbl@${DOMAINS.fbl}`, org: 'Example Mailbox FBL', domain: 'fbl' },
  cert: { from: `reports@${DOMAINS.cert}`, org: 'Example CERT', domain: 'cert' },
  noc: { from: `monitor@${DOMAINS.noc}`, org: 'Our NOC', domain: 'noc' },
  rights: { from: `notices@${DOMAINS.rights}`, org: 'Rights Co', domain: 'rights' },
};

export class Composer {
  private readonly sent = new Map<string, Composed>();
  private readonly keys = signingKeys();

  constructor(
    private readonly seed: number,
    private readonly byId: ReadonlyMap<string, PlannedReport>,
  ) {}

  async compose(p: PlannedReport): Promise<Composed> {
    let c: Composed;
    if (p.kind === 'resend') {
      const first = this.byId.get(p.resendOf!)!;
      const original = this.sent.get(first.id) ?? (await this.build(first, {}));
      const forward = { messageId: `${p.id}.${this.seed}.fwd@${this.senderOf(first).from.split('@')[1]}` };
      switch (p.resendHow) {
        case 'maildir':
          c = { ...original, filename: `${Math.floor(p.at / 1000)}.M${p.id.slice(1)}P1.mx:2,S` };
          break;
        case 'forward_signed':
          c = await this.build(first, forward);
          break;
        case 'forward_unsigned':
          c = { ...(await this.build(first, { ...forward, unsigned: true })), shouldTrust: false };
          break;
        default:
          c = original;
      }
    } else c = await this.build(p, {});
    this.sent.set(p.id, c);
    return c;
  }

  private senderOf(p: PlannedReport): { from: string; org: string } {
    if (p.reporter === 'anon' || p.reporter === 'shadowserver') return { from: `citizen-${p.id}@${DOMAINS.freemail}`, org: 'Concerned citizen' };
    return SENDERS[p.reporter];
  }

  /** The signing key, or none: genuine reports are signed by their reporter, forgeries as their forgery says. */
  private keyOf(p: PlannedReport): SigningKey | undefined {
    if (p.kind === 'forged' || p.kind === 'preempt') {
      return p.forgery === 'other_domain' ? this.keys.attacker : p.forgery === 'tampered' ? this.keys[p.forgedDomain!] : undefined;
    }
    if (p.reporter === 'anon') return p.freemailSigned ? this.keys.freemail : undefined;
    return this.keys[SENDERS[p.reporter as keyof typeof SENDERS].domain];
  }

  private async build(p: PlannedReport, opts: { messageId?: string; unsigned?: boolean }): Promise<Composed> {
    const shouldTrust = (p.kind === 'genuine' || p.kind === 'late') && !opts.unsigned;
    if (p.format === 'csv') {
      const tag = p.csvType === 'botnet_drone' ? 'mirai' : '';
      const { bytes, filename } = shadowserverCsv(new Date(p.at), p.csvType!, p.targets.map((t) => ({ ip: t.ip, at: new Date(t.eventTime), port: 23, tag })));
      const channel: IntakeChannel = p.channel === 'feed' ? { kind: 'feed', feed: 'shadowserver', actor: 'feed:shadowserver' } : { kind: 'relay', actor: 'olga' };
      return { bytes, filename, channel, actor: channel.actor, shouldTrust: p.channel === 'feed' };
    }
    const t = p.targets[0]!;
    const tampered = p.forgery === 'tampered';
    const ip = tampered ? DECOY_IP : t.ip;
    const { from, org } = this.senderOf(p);
    const messageId = opts.messageId ?? `${p.id}.${this.seed}@${from.split('@')[1]}`;
    const sentAt = new Date(p.at);
    let raw =
      p.format === 'arf'
        ? arfMail({ from, messageId, originalMessageId: p.originalMessageId ?? `spam-${p.id}.${this.seed}@shop.example`, sentAt, eventTime: new Date(t.eventTime), ip, note: `Buy now, offer ${p.id}` })
        : xarfMail({ from, org, messageId, sentAt, eventTime: new Date(t.eventTime), ip, category: t.category as never, caseId: `${p.id}-${this.seed}` });
    const key = opts.unsigned ? undefined : this.keyOf(p);
    if (key) raw = await sign(raw, key);
    // Tampered: a real signature over a report about another address, then the address changed.
    if (tampered) raw = raw.replace(`Source-IP: ${DECOY_IP}`, `Source-IP: ${t.ip}`).replace(`"SourceIp":"${DECOY_IP}"`, `"SourceIp":"${t.ip}"`);
    return { bytes: Buffer.from(raw), filename: undefined, channel: { kind: 'relay', actor: 'maildir' }, actor: 'maildir', shouldTrust };
  }
}
