import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { alertsSettings, validateAlertSources } from '../../../controller/alerts/alertsSettings.js';
import { authenticateSource } from '../../../controller/alerts/authenticateSource.js';
import { readCrowdsecAlerts } from '../../../controller/alerts/readCrowdsecAlerts.js';
import { readFastnetmonNotice } from '../../../controller/alerts/readFastnetmonNotice.js';

const dir = mkdtempSync(join(tmpdir(), 'cordon-alerts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const token = (name: string, text: string, mode = 0o640) => {
  const f = join(dir, name);
  writeFileSync(f, text);
  chmodSync(f, mode);
  return f;
};
const TLS = { cert: Buffer.from('cert'), key: Buffer.from('key') };

describe('alert bodies are checked whole, naming the field', () => {
  const alert = { scenario: 'crowdsecurity/ssh-bf', source: { scope: 'Ip', ip: '203.0.113.7' } };
  it.each([
    [{ not: 'a list' }, 'body: must be a JSON list of CrowdSec alerts'],
    [[alert, { source: alert.source }], '[1].scenario: is required'],
    [[{ scenario: 'x' }], '[0].source: must be an object'],
    [[{ ...alert, source: { ip: '1.2.3.4' } }], '[0].source.scope: is required'],
    [[{ ...alert, source: { scope: 'Ip', ip: 7 } }], '[0].source.ip: must be a string'],
    [[{ ...alert, events_count: -1 }], '[0].events_count: must be a non-negative integer'],
    [[{ ...alert, stop_at: 'yesterday' }], '[0].stop_at: "yesterday" is not an RFC 3339 time'],
    [[{ ...alert, decisions: {} }], '[0].decisions: must be a list'],
    [[{ ...alert, events: [{ meta: 'x' }] }], '[0].events[0].meta: must be a list'],
    [[{ ...alert, simulated: 'no' }], '[0].simulated: must be true or false'],
  ])('CrowdSec %j', (body, message) => {
    expect(() => readCrowdsecAlerts(body)).toThrow(message);
  });

  it.each([
    [[], 'body: must be an object'],
    [{ direction: 'outgoing', action: 'ban' }, 'ip: is required'],
    [{ ip: 'host-1', direction: 'outgoing', action: 'ban' }, 'ip: "host-1" is not an IP address'],
    [{ ip: '203.0.113.9', action: 'ban' }, 'direction: is required'],
    [{ ip: '203.0.113.9', direction: 'out going', action: 'ban' }, 'direction: must be incoming, outgoing, internal or other'],
    [{ ip: '203.0.113.9', direction: 'outgoing', action: 'ban', pps: 'many' }, 'pps: must be a non-negative integer'],
    [{ ip: '203.0.113.9', direction: 'outgoing', action: 'ban', detailsBase64: '!!' }, 'detailsBase64: is not base64'],
  ])('FastNetMon %j', (body, message) => {
    expect(() => readFastnetmonNotice(body)).toThrow(message);
  });
});

describe('alerts.* settings', () => {
  const good = token('a.token', 'a'.repeat(32) + '\n');
  it('is off with no listen, and reads each token when on', () => {
    expect(alertsSettings({ listen: '', tls: true, sources: [] }, TLS)).toBeUndefined();
    const s = alertsSettings({ listen: '127.0.0.1:0', tls: false, sources: [{ id: 'edge', kind: 'crowdsec', tokenFile: good }] }, TLS);
    expect(s).toEqual({ listen: '127.0.0.1:0', tls: undefined, sources: [{ id: 'edge', kind: 'crowdsec', token: Buffer.from('a'.repeat(32)) }] });
    expect(alertsSettings({ listen: '127.0.0.1:0', tls: true, sources: [{ id: 'edge', kind: 'crowdsec', tokenFile: good }] }, TLS)?.tls).toEqual(TLS);
  });

  it.each([
    [join(dir, 'missing.token'), 'alerts.sources[0].tokenFile: cannot read'],
    [token('empty.token', '\n'), 'is empty'],
    [token('world.token', 'b'.repeat(32), 0o644), 'is world-readable (mode 644)'],
    [token('short.token', 'short'), 'at least 16 characters'],
  ])('refuses the token file %s', (file, message) => {
    expect(() => alertsSettings({ listen: '127.0.0.1:0', tls: false, sources: [{ id: 'edge', kind: 'crowdsec', tokenFile: file }] }, TLS)).toThrow(message);
  });

  it('refuses two sources with one token, no source, and bad entries', () => {
    const twice = [{ id: 'a', kind: 'crowdsec' as const, tokenFile: good }, { id: 'b', kind: 'fastnetmon' as const, tokenFile: good }];
    expect(() => alertsSettings({ listen: '127.0.0.1:0', tls: false, sources: twice }, TLS)).toThrow('alerts.sources[1].tokenFile: holds the same token as alerts.sources[0]');
    expect(() => alertsSettings({ listen: '127.0.0.1:0', tls: false, sources: [] }, TLS)).toThrow('alerts.sources: is empty');
    expect(() => validateAlertSources([{ id: 'a', kind: 'snort', tokenFile: '/x' }])).toThrow('alerts.sources[0].kind: must be one of crowdsec, fastnetmon');
    expect(() => validateAlertSources([{ id: 'a b', kind: 'crowdsec', tokenFile: '/x' }])).toThrow('alerts.sources[0].id');
    expect(() => validateAlertSources([{ id: 'a', kind: 'crowdsec', tokenFile: 'rel' }])).toThrow('alerts.sources[0].tokenFile: must be an absolute path');
    expect(() => validateAlertSources([{ id: 'a', kind: 'crowdsec', tokenFile: '/x', token: 'inline' }])).toThrow('alerts.sources[0].token: is not a key');
    expect(() => validateAlertSources([{ id: 'a', kind: 'crowdsec', tokenFile: '/x' }, { id: 'a', kind: 'fastnetmon', tokenFile: '/y' }])).toThrow('alerts.sources[1].id: a is named twice');
  });
});

describe('authenticateSource', () => {
  const sources = [
    { id: 'cs', kind: 'crowdsec' as const, token: Buffer.from('t'.repeat(20)) },
    { id: 'fnm', kind: 'fastnetmon' as const, token: Buffer.from('u'.repeat(40)) },
  ];
  it('finds the source by its bearer token, and says why not', () => {
    expect(authenticateSource(`Bearer ${'u'.repeat(40)}`, sources)).toBe(sources[1]);
    expect(authenticateSource(`bearer ${'t'.repeat(20)}`, sources)).toBe(sources[0]);
    expect(authenticateSource(undefined, sources)).toBe('missing');
    expect(authenticateSource(`Basic ${'t'.repeat(20)}`, sources)).toBe('missing');
    expect(authenticateSource('Bearer ', sources)).toBe('missing');
    expect(authenticateSource(`Bearer ${'t'.repeat(19)}`, sources)).toBe('wrong');
    expect(authenticateSource(`Bearer ${'t'.repeat(21)}`, sources)).toBe('wrong');
  });
});
