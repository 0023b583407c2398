import { describe, expect, it } from 'vitest';
import { validateDnsblZones } from '../../../controller/monitoring/dnsbl/DnsblZone.js';
import { byAddress, mainCategory, meaningOf, readReturnCodes } from '../../../controller/monitoring/dnsbl/readReturnCodes.js';
import { DNSBL_ERROR_CODES, isDnsblErrorCode } from '../../../controller/monitoring/dnsbl/zenReturnCodes.js';

const [zen, plain] = validateDnsblZones([{ zone: 'zen.spamhaus.org' }, { zone: 'bl.example' }]);

describe('Spamhaus ZEN return codes', () => {
  it('maps each published code to its list and category', () => {
    const table = Object.fromEntries(
      ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7', '127.0.0.9', '127.0.0.10', '127.0.0.11'].map((c) => {
        const m = meaningOf(c, zen!);
        return [c, `${m.list} ${m.category}`];
      }),
    );
    expect(table).toEqual({
      '127.0.0.2': 'SBL spam',
      '127.0.0.3': 'SBL CSS spam',
      '127.0.0.4': 'XBL botnet',
      '127.0.0.5': 'XBL botnet',
      '127.0.0.6': 'XBL botnet',
      '127.0.0.7': 'XBL botnet',
      '127.0.0.9': 'DROP spam',
      '127.0.0.10': 'PBL ignore',
      '127.0.0.11': 'PBL ignore',
    });
  });

  it('calls a code outside the table unknown, under the zone name', () => {
    expect(meaningOf('127.0.0.8', zen!)).toEqual({ code: '127.0.0.8', list: 'zen.spamhaus.org', category: 'unknown' });
    expect(meaningOf('127.0.0.2', plain!)).toEqual({ code: '127.0.0.2', list: 'bl.example', category: 'unknown' });
  });

  it('knows the error codes, which are never listings', () => {
    expect(Object.keys(DNSBL_ERROR_CODES)).toEqual(['127.255.255.252', '127.255.255.254', '127.255.255.255']);
    expect(DNSBL_ERROR_CODES['127.255.255.254']!.kind).toBe('permission');
    expect(DNSBL_ERROR_CODES['127.255.255.255']!.kind).toBe('transient');
    expect(isDnsblErrorCode('127.255.255.253')).toBe(true);
    expect(isDnsblErrorCode('127.0.0.255')).toBe(false);
  });
});

describe('reading a listing', () => {
  it('splits reportable from ignored codes, in numeric order, without repeats', () => {
    const read = readReturnCodes(['127.0.0.10', '127.0.0.4', '127.0.0.2', '127.0.0.4'], zen!);
    expect(read.reportable.map((m) => m.code)).toEqual(['127.0.0.2', '127.0.0.4']);
    expect(read.ignored.map((m) => m.code)).toEqual(['127.0.0.10']);
  });

  it('finds nothing to report in a PBL-only listing', () => {
    expect(readReturnCodes(['127.0.0.10', '127.0.0.11'], zen!).reportable).toEqual([]);
  });

  it('takes the first known category as the complaint category', () => {
    expect(mainCategory(readReturnCodes(['127.0.0.4', '127.0.0.2'], zen!).reportable)).toBe('spam');
    expect(mainCategory(readReturnCodes(['127.0.0.4'], zen!).reportable)).toBe('botnet');
    expect(mainCategory(readReturnCodes(['127.0.0.8', '127.0.0.4'], zen!).reportable)).toBe('botnet');
    expect(mainCategory(readReturnCodes(['127.0.0.8'], zen!).reportable)).toBe('unknown');
  });

  it('orders codes by value, not text', () => {
    expect(['127.0.0.10', '127.0.0.9', '127.0.1.2', '127.0.0.11'].sort(byAddress)).toEqual(['127.0.0.9', '127.0.0.10', '127.0.0.11', '127.0.1.2']);
  });
});
