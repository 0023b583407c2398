import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crowdsecCategory } from '../../../controller/alerts/crowdsecCategory.js';
import { crowdsecFiling } from '../../../controller/alerts/crowdsecFiling.js';
import { fastnetmonOutcome } from '../../../controller/alerts/fastnetmonFiling.js';
import { readCrowdsecAlerts } from '../../../controller/alerts/readCrowdsecAlerts.js';
import { readFastnetmonNotice } from '../../../controller/alerts/readFastnetmonNotice.js';
import { authenticationWords } from '../../../controller/web/desk/authenticationWords.js';
import { REPO_ROOT } from '../../helpers/paths.js';

const fixture = () => JSON.parse(readFileSync(join(REPO_ROOT, 'test/fixtures/alerts/crowdsec-ssh-bf.json'), 'utf8')) as Record<string, unknown>[];
const CS = { id: 'edge-crowdsec', kind: 'crowdsec' as const };
const FNM = { id: 'core-fnm', kind: 'fastnetmon' as const };

describe('CrowdSec scenario → category', () => {
  it.each([
    ['crowdsecurity/ssh-bf', 'brute_force'],
    ['crowdsecurity/ssh-slow-bf', 'brute_force'],
    ['crowdsecurity/http-generic-bf', 'brute_force'],
    ['someone/wordpress-bruteforce', 'brute_force'],
    ['crowdsecurity/iptables-scan-multi_ports', 'scan'],
    ['someone/port-scan', 'scan'],
    ['crowdsecurity/http-crawl-non_statics', 'scan'],
    ['crowdsecurity/http-bad-user-agent', 'scan'],
    ['crowdsecurity/http-probing', 'scan'],
    ['crowdsecurity/http-sqli-probing', 'scan'],
    ['crowdsecurity/http-sensitive-files', 'scan'],
    ['ltsich/http-w00tw00t', 'scan'],
    ['someone/http-ddos', 'ddos'],
    ['someone/udp-flood', 'ddos'],
    ['crowdsecurity/postfix-spam', 'spam'],
    ['CrowdSecurity/SSH-BF', 'brute_force'],
  ])('%s → %s', (scenario, category) => expect(crowdsecCategory(scenario)).toBe(category));

  it.each(['crowdsecurity/CVE-2022-26134', 'crowdsecurity/http-open-proxy', 'crowdsecurity/bfd', 'x/abf', 'crowdsecurity/nginx-req-limit-exceeded', ''])('%s has none', (s) => {
    expect(crowdsecCategory(s)).toBeUndefined();
  });
});

describe('a CrowdSec alert as a complaint', () => {
  it('files the source address as the offender, with its evidence, time and raw alert', () => {
    const [alert] = readCrowdsecAlerts(fixture());
    const f = crowdsecFiling(alert!, CS, true);
    expect(f.needsInfo).toBeUndefined();
    expect(f.input).toMatchObject({ ip: '203.0.113.7', category: 'brute_force', reporter: 'crowdsec:edge-crowdsec', reporterKind: 'own_monitoring' });
    // stop_at wins over start_at, read as UTC whatever its offset.
    expect(f.input.eventTime?.toISOString()).toBe('2024-05-01T08:00:05.987Z');
    expect(f.input.evidence).toContain('scenario crowdsecurity/ssh-bf against Ip 203.0.113.7 (AS64500 Example Net, country DE): 6 event(s) from 2024-05-01T10:00:01.123Z');
    expect(f.input.evidence).toContain('Its decisions: ban 4h on Ip 203.0.113.7 (crowdsec).');
    expect(f.input.evidence).toContain('2024-05-01T10:00:02Z log_type=ssh_failed-auth service=ssh source_ip=203.0.113.7 target_user=admin');
    expect(JSON.parse(f.input.raw)).toEqual(fixture()[0]);
    expect(f.input.authentication).toMatchObject({ trusted: true, via: 'alert', reporterKind: 'own_monitoring' });
    expect(authenticationWords(JSON.stringify(f.input.authentication)).verdict).toContain("a detector's alert (CrowdSec, FastNetMon) sent with its own token");
    // The same alert again has the same Message-ID: a duplicate, not a second complaint.
    expect(crowdsecFiling(readCrowdsecAlerts(fixture())[0]!, CS, true).input.messageId).toBe(f.input.messageId);
  });

  it('reads source.value when scope Ip has no ip', () => {
    const a = fixture()[0]!;
    a.source = { scope: 'Ip', value: '2001:db8::7' };
    expect(crowdsecFiling(readCrowdsecAlerts([a])[0]!, CS, false).input).toMatchObject({ ip: '2001:db8::7', authentication: { trusted: false } });
  });

  it('keeps an unknown scenario, a Range and an address-less alert as needs_info', () => {
    const unknown = { ...fixture()[0]!, scenario: 'crowdsecurity/CVE-2022-26134' };
    expect(crowdsecFiling(readCrowdsecAlerts([unknown])[0]!, CS, true).needsInfo).toMatch(/scenario crowdsecurity\/CVE-2022-26134 has no Cordon category/);
    const range = { ...fixture()[0]!, source: { scope: 'Range', value: '203.0.113.0/24', range: '203.0.113.0/24' } };
    const r = crowdsecFiling(readCrowdsecAlerts([range])[0]!, CS, true);
    expect(r.needsInfo).toMatch(/scope Range \(203.0.113.0\/24\): not one address/);
    expect(r.input.ip).toBe('');
    const bad = { ...fixture()[0]!, source: { scope: 'Ip', value: 'not-an-ip' } };
    expect(crowdsecFiling(readCrowdsecAlerts([bad])[0]!, CS, true).needsInfo).toMatch(/names no valid address/);
  });
});

describe('a FastNetMon notice', () => {
  const details = ['IP: 203.0.113.9', 'Attack type: syn_flood', 'Initial attack power: 41000 packets per second', 'Peak attack power: 41000 packets per second', 'Attack direction: outgoing', 'Attack protocol: tcp', 'Total outgoing pps: 41000 packets per second', ''].join('\n');
  const notice = (over: Record<string, unknown> = {}) => readFastnetmonNotice({ ip: '203.0.113.9', direction: 'outgoing', pps: '41000', action: 'ban', detailsBase64: Buffer.from(details).toString('base64'), ...over });
  const at = new Date('2024-05-01T12:00:00Z');

  it.each(['syn_flood', 'udp_flood', 'icmp_flood', 'ip_fragmentation_flood'])('%s outgoing is a ddos complaint against the sender', (type) => {
    const o = fastnetmonOutcome(notice({ detailsBase64: undefined, details: details.replace('syn_flood', type) }), FNM, true, at);
    expect('file' in o && o.file.needsInfo).toBe(undefined);
    if (!('file' in o)) throw new Error('not filed');
    expect(o.file.input).toMatchObject({ ip: '203.0.113.9', category: 'ddos', reporter: 'fastnetmon:core-fnm', reporterKind: 'own_monitoring', eventTime: at, eventTimeSource: 'receipt' });
    expect(o.file.input.evidence).toContain(`saw 203.0.113.9 send an attack (direction outgoing) of type ${type} over tcp at 41000 packets per second`);
    expect(o.file.input.evidence).toContain('total outgoing pps: 41000 packets per second');
  });

  it('never files an incoming attack (our host is the victim), nor an unban', () => {
    expect(fastnetmonOutcome(notice({ direction: 'incoming' }), FNM, true, at)).toEqual({ ignored: expect.stringMatching(/direction incoming: 203.0.113.9 is not the source/) });
    expect(fastnetmonOutcome(notice({ direction: 'other' }), FNM, true, at)).toHaveProperty('ignored');
    expect(fastnetmonOutcome(notice({ action: 'unban', detailsBase64: '' }), FNM, true, at)).toEqual({ ignored: 'action unban: only a ban is filed' });
  });

  it('keeps an unknown attack type, or none, as needs_info', () => {
    const u = fastnetmonOutcome(notice({ detailsBase64: undefined, details: 'Attack type: unknown\n' }), FNM, true, at);
    expect('file' in u && u.file.needsInfo).toMatch(/attack type "unknown" has no Cordon category/);
    const none = fastnetmonOutcome(notice({ detailsBase64: '' }), FNM, true, at);
    expect('file' in none && none.file.needsInfo).toMatch(/"\(none given\)"/);
  });
});

describe('what CrowdSec 1.4.6 really posts', () => {
  it('reads the http plugin body captured from Debian crowdsec (ssh-bf on sshd auth failures)', () => {
    const body = JSON.parse(readFileSync(join(REPO_ROOT, 'test/fixtures/alerts/crowdsec-1.4.6-ssh-bf.json'), 'utf8')) as unknown;
    const [a] = readCrowdsecAlerts(body);
    const f = crowdsecFiling(a!, CS, true);
    expect(f.needsInfo).toBeUndefined();
    expect(f.input).toMatchObject({ ip: '203.0.113.7', category: 'brute_force' });
    expect(f.input.evidence).toContain('target_user=admin1');
  });
});
