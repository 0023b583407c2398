import { describe, expect, it } from 'vitest';
import { defaultCodesFor, validateDnsblZones } from '../../../controller/monitoring/dnsbl/DnsblZone.js';
import { ZEN_RETURN_CODES } from '../../../controller/monitoring/dnsbl/zenReturnCodes.js';
import { CordonError } from '../../../proto/runtime/CordonError.js';

/** The field a validation error names, or a failure if none is thrown. */
function fieldOf(value: unknown): string | undefined {
  try {
    validateDnsblZones(value, 'monitoring.dnsbl.zones');
  } catch (err) {
    expect(err).toBeInstanceOf(CordonError);
    expect((err as CordonError).kind).toBe('invalid');
    return (err as CordonError).field;
  }
  throw new Error(`accepted ${JSON.stringify(value)}`);
}

describe('DNSBL zone configuration', () => {
  it('gives zen.spamhaus.org and a DQS key zone the ZEN table, other zones none', () => {
    const [zen, dqs, other] = validateDnsblZones([{ zone: 'ZEN.Spamhaus.org.' }, { zone: 'abc123.zen.dq.spamhaus.net' }, { zone: 'bl.example.net' }]);
    expect(zen).toEqual({ zone: 'zen.spamhaus.org', codes: ZEN_RETURN_CODES });
    expect(dqs!.codes).toBe(ZEN_RETURN_CODES);
    expect(other!.codes).toEqual({});
    expect(defaultCodesFor('zen.spamhaus.org.evil.example')).toEqual({});
  });

  it('takes a configured code table instead of the default, not merged with it', () => {
    const [z] = validateDnsblZones([{ zone: 'zen.spamhaus.org', codes: { '127.0.0.2': { list: ' SBL ', category: 'spam' }, '127.0.1.10': { list: 'Policy', category: 'ignore' } } }]);
    expect(z!.codes).toEqual({ '127.0.0.2': { list: 'SBL', category: 'spam' }, '127.0.1.10': { list: 'Policy', category: 'ignore' } });
  });

  it('accepts its own output again (the monitor re-validates what it is given)', () => {
    const once = validateDnsblZones([{ zone: 'zen.spamhaus.org' }, { zone: 'bl.example', codes: { '127.0.0.2': { list: 'BL', category: 'phishing' } } }]);
    expect(validateDnsblZones(once)).toEqual(once);
  });

  it('names the field of every mistake', () => {
    expect(fieldOf({ zone: 'zen.spamhaus.org' })).toBe('monitoring.dnsbl.zones');
    expect(fieldOf([{ zone: 'zen.spamhaus.org' }, 'bl.example'])).toBe('monitoring.dnsbl.zones[1]');
    expect(fieldOf([{ zone: 42 }])).toBe('monitoring.dnsbl.zones[0].zone');
    expect(fieldOf([{ zone: 'localhost' }])).toBe('monitoring.dnsbl.zones[0].zone');
    expect(fieldOf([{ zone: 'bad_label.example' }])).toBe('monitoring.dnsbl.zones[0].zone');
    expect(fieldOf([{ zone: '-bad.example' }])).toBe('monitoring.dnsbl.zones[0].zone');
    expect(fieldOf([{ zone: 'zen.spamhaus.org/x' }])).toBe('monitoring.dnsbl.zones[0].zone');
    // Too long to leave room for an IPv6 address's 64 characters before it.
    expect(fieldOf([{ zone: `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.example` }])).toBe('monitoring.dnsbl.zones[0].zone');
    expect(fieldOf([{ zone: 'a.example' }, { zone: 'A.example.' }])).toBe('monitoring.dnsbl.zones[1].zone');
    expect(fieldOf([{ zone: 'a.example', code: {} }])).toBe('monitoring.dnsbl.zones[0].code');
    expect(fieldOf([{ zone: 'a.example', codes: [] }])).toBe('monitoring.dnsbl.zones[0].codes');
  });

  it('takes only 127.x.y.z return codes, and none in the error range', () => {
    const codes = (code: string) => fieldOf([{ zone: 'a.example', codes: { [code]: { list: 'L', category: 'spam' } } }]);
    expect(codes('127.0.0.256')).toBe('monitoring.dnsbl.zones[0].codes["127.0.0.256"]');
    expect(codes('10.0.0.2')).toBe('monitoring.dnsbl.zones[0].codes["10.0.0.2"]');
    expect(codes('127.0.0.02')).toBe('monitoring.dnsbl.zones[0].codes["127.0.0.02"]');
    expect(codes('127.0.2')).toBe('monitoring.dnsbl.zones[0].codes["127.0.2"]');
    expect(codes('127.255.255.254')).toBe('monitoring.dnsbl.zones[0].codes["127.255.255.254"]');
  });

  it('wants a list name and a known category for each code', () => {
    const meaning = (m: unknown) => fieldOf([{ zone: 'a.example', codes: { '127.0.0.2': m } }]);
    expect(meaning('spam')).toBe('monitoring.dnsbl.zones[0].codes["127.0.0.2"]');
    expect(meaning({ category: 'spam' })).toBe('monitoring.dnsbl.zones[0].codes["127.0.0.2"].list');
    expect(meaning({ list: '  ', category: 'spam' })).toBe('monitoring.dnsbl.zones[0].codes["127.0.0.2"].list');
    expect(meaning({ list: 'SBL', category: 'spamming' })).toBe('monitoring.dnsbl.zones[0].codes["127.0.0.2"].category');
    // `unknown` is what a code without an entry gets; configuring it says nothing.
    expect(meaning({ list: 'SBL', category: 'unknown' })).toBe('monitoring.dnsbl.zones[0].codes["127.0.0.2"].category');
  });
});
