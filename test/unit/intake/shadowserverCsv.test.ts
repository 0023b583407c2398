import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readCsv } from '../../../controller/intake/formats/csvRecords.js';
import { shadowserverParser } from '../../../controller/intake/formats/shadowserver.js';
import type { ParsedMessage } from '../../../controller/intake/types.js';

/** RFC 4180 writer for the round trip: quote when needed (or asked), double inner quotes. */
function writeCsv(rows: string[][], quoteAll: boolean): string {
  const field = (v: string): string => (quoteAll || /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return rows.map((r) => r.map(field).join(',')).join('\r\n');
}

describe('readCsv (RFC 4180)', () => {
  it.each([
    ['a,b,c', [['a', 'b', 'c']]],
    ['a,b\r\nc,d\r\n', [['a', 'b'], ['c', 'd']]],
    ['a,b\nc,d', [['a', 'b'], ['c', 'd']]],
    ['a,b\rc,d', [['a', 'b'], ['c', 'd']]],
    ['"a,1","b ""q""",c', [['a,1', 'b "q"', 'c']]],
    ['"multi\r\nline",x', [['multi\r\nline', 'x']]],
    ['a,,c,', [['a', '', 'c', '']]],
    ['"",""', [['', '']]],
    ['\uFEFF"timestamp",ip', [['timestamp', 'ip']]],
    ['a,b\n\n\nc,d\n', [['a', 'b'], ['c', 'd']]],
    ['"unterminated,x\ny', [['unterminated,x\ny']]],
    ['"a"junk,b', [['ajunk', 'b']]],
    ['', []],
  ])('%j', (input, expected) => {
    expect(readCsv(input)).toEqual(expected);
  });

  it('round-trips what an RFC 4180 writer produces', () => {
    const row = fc.array(fc.string({ unit: fc.constantFrom('a', 'Z', '1', ',', '"', '\r', '\n', ' ', 'é', ':') }), { minLength: 2, maxLength: 6 });
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 8 }), fc.boolean(), (rows, quoteAll) => {
        expect(readCsv(writeCsv(rows, quoteAll))).toEqual(rows);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on arbitrary text', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (text) => void readCsv(text)), { numRuns: 300 });
  });

  // Speed is measured by test/bench/intake-throughput.mjs; here only that every row is read.
  it('reads every row of a 100,000-row report', () => {
    const header = 'timestamp,ip,protocol,port,hostname,tag,header,asn,geo,region,city,systime,cache_control,location,server,search_target,unique_service_name';
    const lines = [header];
    for (let i = 0; i < 100_000; i++) {
      const ip = `198.51.${(i >> 8) & 0xff}.${i & 0xff}`;
      lines.push(`"2024-05-03 04:${String(i % 60).padStart(2, '0')}:00","${ip}","udp",1900,"host-${i}.example.net","ssdp","HTTP/1.1 200 OK",64501,"ZZ","REGION","CITY",,"max-age=120","http://10.0.0.1:49152/desc.xml","Linux/2.6, UPnP/1.0, SDK/1.3","upnp:rootdevice","uuid:${i}::upnp:rootdevice"`);
    }
    const content = Buffer.from(lines.join('\r\n'));
    const message: ParsedMessage = { headers: new Map(), from: undefined, date: undefined, subject: '', text: '', parts: [{ contentType: 'text/csv', filename: '2024-05-03-scan_ssdp-asn.csv', content }], raw: content };
    const found = shadowserverParser.parse(message);
    expect(found).toHaveLength(100_000);
    expect(found?.[99_999]?.category).toBe('open_service');
  });
});
