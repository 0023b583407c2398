import { describe, expect, it } from 'vitest';
import { xarfCategory } from '../../../controller/intake/formats/xarfCategory.js';
import { readXarfDate } from '../../../controller/intake/formats/xarfDate.js';

describe('xarfCategory', () => {
  it.each([
    // X-ARF 0.2 Report-Type / Category
    ['login-attack', 'abuse', 'brute_force'], ['spam', 'abuse', 'spam'], ['phishing', 'fraud', 'phishing'], [undefined, 'malware', 'malware'], ['dnsbl', 'info', 'other'],
    // abusix v1–v3 ReportType / ReportClass
    ['LoginAttack', 'Activity', 'brute_force'], ['DOS', 'Activity', 'ddos'], ['PortScan', 'Activity', 'scan'], ['OpenService', 'Vulnerability', 'open_service'],
    ['Botnet', 'Content', 'botnet'], ['Copyright', 'Content', 'copyright'], ['ChildAbuse', 'Content', 'child_abuse'], ['Exploit', 'Activity', 'other'],
    // xarf-spec v4 type / category
    ['open_service', 'vulnerability', 'open_service'], ['ddos_amplification', 'connection', 'ddos'], ['infected_host', 'connection', 'botnet'],
    ['auth_failure', 'connection', 'auth_failure'], ['bulk_messaging', 'messaging', 'spam'], ['p2p', 'copyright', 'copyright'], ['csam', 'content', 'child_abuse'],
    ['bot', 'connection', 'other'], ['blocklist', 'reputation', 'other'], ['something_new', 'vulnerability', 'open_service'],
  ] as const)('%s / %s → %s', (type, cls, category) => {
    expect(xarfCategory(type, cls)).toBe(category);
  });
});

describe('readXarfDate', () => {
  it.each([
    ['2025-01-11T15:35:37Z', '2025-01-11T15:35:37.000Z'],
    ['Mon, 10 Feb 2025 08:15:30 +0100', '2025-02-10T07:15:30.000Z'],
    ['Feb  3 2014 02:13:35 +0100', '2014-02-03T01:13:35.000Z'],
    [1736608537, '2025-01-11T15:15:37.000Z'],
    ['1736608537000', '2025-01-11T15:15:37.000Z'],
  ] as const)('%s', (input, iso) => {
    expect(readXarfDate(input)?.toISOString()).toBe(iso);
  });

  it('returns undefined for junk', () => {
    expect(readXarfDate('yesterday')).toBeUndefined();
    expect(readXarfDate({})).toBeUndefined();
  });
});
