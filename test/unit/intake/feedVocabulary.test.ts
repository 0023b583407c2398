import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { feedCategory } from '../../../controller/intake/formats/feedCategory.js';
import { feedKey, roleRank } from '../../../controller/intake/formats/feedColumns.js';
import { feedTime } from '../../../controller/intake/formats/feedTime.js';

describe('feed column vocabulary', () => {
  const key = (...segments: string[]) => feedKey(segments);

  it.each(['ip', 'IP', 'src_ip', 'SrcIP', 'source.ip', 'Source Ip', 'SourceIp', 'source-ip', 'IPAddress', 'ip_address', 'address', 'saddr', 'attacker_ip', 'src', 'event.source.ip'])(
    '%s names the offender',
    (name) => expect(roleRank(key(name), 'offender')).toBeDefined(),
  );

  it('names are compared without case or separators, nested or dotted alike', () => {
    const ranks = [key('SourceIp'), key('source_ip'), key('source ip'), key('source.ip'), key('Source', 'Ip'), key('SOURCE-IP')].map((k) => roleRank(k, 'offender'));
    expect(new Set(ranks).size).toBe(1);
  });

  it.each(['dst_ip', 'destination.ip', 'DestinationIp', 'dest_addr', 'victim_ip', 'target ip', 'TargetIPAddress', 'sinkhole_ip', 'cc_ip', 'c2.ip', 'C&C IP', 'cnc_address', 'server_ip', 'honeypot.src_ip', 'sensor_ip', 'reporter.ip', 'observer.ip', 'referer_ip', 'feed.url'])(
    '%s is the other side, never the offender',
    (name) => {
      expect(roleRank(key(name), 'offender')).toBeUndefined();
      expect(roleRank(key(name), 'url')).toBeUndefined();
    },
  );

  it('a source name ranks before a bare ip, a first-seen before a last-seen', () => {
    expect(roleRank(key('src_ip'), 'offender')!).toBeLessThan(roleRank(key('ip'), 'offender')!);
    expect(roleRank(key('first_seen'), 'time')!).toBeLessThan(roleRank(key('last_seen'), 'time')!);
    expect(roleRank(key('time.source'), 'time')!).toBeLessThan(roleRank(key('time.observation'), 'time')!);
    expect(roleRank(key('Dateadded (UTC)'), 'time')).toBeDefined();
    expect(roleRank(key('first_seen_utc'), 'time')).toBeDefined();
  });
});

describe('feed type → category', () => {
  it.each([
    ['spam', 'spam'], ['Email Spam', 'spam'], ['abusive-content', 'spam'],
    ['phishing', 'phishing'], ['social-engineering', 'phishing'],
    ['malware-distribution', 'malware'], ['malware_download', 'malware'], ['malware url', 'malware'], ['malicious-code', 'malware'], ['system-compromise', 'malware'],
    ['infected-system', 'botnet'], ['c2-server', 'botnet'], ['bot', 'botnet'], ['Botnet C&C', 'botnet'], ['mirai', 'botnet'],
    ['ddos', 'ddos'], ['DoS', 'ddos'], ['dns amplification attack', 'ddos'], ['availability', 'ddos'],
    ['ddos-amplifier', 'open_service'], ['open-resolver', 'open_service'], ['openresolvers', 'open_service'], ['vulnerable-service', 'open_service'], ['accessible-rdp', 'open_service'], ['proxy', 'open_service'],
    ['brute-force', 'brute_force'], ['bruteforce', 'brute_force'], ['ssh', 'brute_force'], ['login-attack', 'brute_force'], ['sshpwauth', 'brute_force'],
    ['scanner', 'scan'], ['port scan', 'scan'], ['portscan', 'scan'], ['darknet', 'scan'], ['exploit', 'scan'], ['web app attack', 'scan'], ['information-gathering', 'scan'],
    ['copyright', 'copyright'], ['torrent piracy', 'copyright'],
    ['18,22', 'brute_force'], ['14', 'scan'], ['14,18', 'brute_force'], ['4', 'ddos'], ['7', 'phishing'],
    ['scanner;brute-force', 'brute_force'], ['spam|phishing', 'phishing'],
  ])('%s → %s', (value, category) => expect(feedCategory(value)).toBe(category));

  it.each(['', 'other', 'unknown', 'undetermined', 'blacklist', 'tor', 'something-new', '13', '99'])('%j names no category', (value) => {
    expect(feedCategory(value)).toBeUndefined();
  });

  it('never throws on any text', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => void feedCategory(s)), { numRuns: 500 });
  });
});

describe('feed time → UTC', () => {
  it.each([
    ['2024-01-02T03:04:05Z', undefined, '2024-01-02T03:04:05.000Z'],
    ['2024-01-02T04:04:05+01:00', undefined, '2024-01-02T03:04:05.000Z'],
    ['2024-01-02 03:04:05', undefined, '2024-01-02T03:04:05.000Z'],
    ['2024/01/02 03:04:05', undefined, '2024-01-02T03:04:05.000Z'],
    ['Tue, 2 Jan 2024 04:04:05 +0100', undefined, '2024-01-02T03:04:05.000Z'],
    ['1704164645', undefined, '2024-01-02T03:04:05.000Z'],
    ['1704164645.25', undefined, '2024-01-02T03:04:05.250Z'],
    ['1704164645000', undefined, '2024-01-02T03:04:05.000Z'],
    [1704164645000, undefined, '2024-01-02T03:04:05.000Z'],
    ['2024-01-02 04:04:05', '+01:00', '2024-01-02T03:04:05.000Z'],
    ['2024-01-02 04:04:05', '+0100', '2024-01-02T03:04:05.000Z'],
    ['2024-01-02 04:04:05', 'UTC+1', '2024-01-02T03:04:05.000Z'],
    ['2024-01-02 04:04:05', 'CET', '2024-01-02T03:04:05.000Z'],
    ['2024-01-02 04:04:05', 'Europe/Berlin', '2024-01-02T03:04:05.000Z'],
    ['2024-07-02 05:04:05', 'Europe/Berlin', '2024-07-02T03:04:05.000Z'],
    ['2024-01-02T03:04:05Z', 'Asia/Tokyo', '2024-01-02T03:04:05.000Z'],
  ])('%j (zone %j) → %s', (value, zone, iso) => expect(feedTime(value, zone)?.toISOString()).toBe(iso));

  it.each([['03/07/2024 12:00'], ['yesterday'], ['64500'], ['443'], ['99999999999'], ['2024-13-01 00:00:00'], ['x'.repeat(100)]])('%j is no time', (value) => {
    expect(feedTime(value)).toBeUndefined();
  });

  it('an unreadable zone gives no time rather than a wrong one', () => {
    expect(feedTime('2024-01-02 04:04:05', 'Mars/Olympus')).toBeUndefined();
  });
});
