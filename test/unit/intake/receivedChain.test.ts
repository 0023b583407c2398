import { describe, expect, it } from 'vitest';
import { entryHop, organisationalDomain, parseReceived } from '../../../controller/intake/formats/receivedChain.js';

// Received: spellings after RFC 5321 §4.4 and the MTAs' documented formats
// (Postfix smtpd, Exim's received_header_text, qmail-smtpd, sendmail).
describe('parseReceived', () => {
  it.each([
    ['from mail.customer.example (mail.customer.example [203.0.113.9])\r\n by mx1.mail.example.net (Postfix) with ESMTPS id 4Tq; Tue, 5 Mar 2024 14:22:10 +0000 (UTC)', '203.0.113.9', 'mail.customer.example', 'mx1.mail.example.net', '2024-03-05T14:22:10.000Z'],
    ['from [203.0.113.9] (helo=[198.51.100.1]) by mx.example.net with esmtp (Exim 4.96) id 1r; Tue, 05 Mar 2024 15:22:10 +0100', '203.0.113.9', undefined, 'mx.example.net', '2024-03-05T14:22:10.000Z'],
    ['from [198.51.100.1] (unknown [203.0.113.9]) by mx.example.net (Postfix) with SMTP id X; 5 Mar 2024 14:22:10 -0000', '203.0.113.9', undefined, 'mx.example.net', '2024-03-05T14:22:10.000Z'],
    ['from unknown (HELO mail.customer.example) (203.0.113.9) by mx.example.net with SMTP; 5 Mar 2024 14:22:10 -0000', '203.0.113.9', undefined, 'mx.example.net', '2024-03-05T14:22:10.000Z'],
    ['from mail.customer.example (mail.customer.example. [IPv6:2001:DB8:0:0::9]) by mx.google.com with ESMTPS id x; Tue, 05 Mar 2024 06:22:10 -0800 (PST)', '2001:db8::9', 'mail.customer.example', 'mx.google.com', '2024-03-05T14:22:10.000Z'],
    ['by mailstore1.example.net (Postfix, from userid 0) id 1; Tue, 5 Mar 2024 14:22:11 +0000', undefined, undefined, 'mailstore1.example.net', '2024-03-05T14:22:11.000Z'],
    ['from [198.51.100.1] by mx.example.net; 5 Mar 2024 14:22:10 -0000', undefined, undefined, 'mx.example.net', '2024-03-05T14:22:10.000Z'],
  ])('%s', (value, ip, rdns, by, date) => {
    const hop = parseReceived(value);
    expect(hop.fromIp).toBe(ip);
    expect(hop.fromRdns).toBe(rdns);
    expect(hop.by).toBe(by);
    expect(hop.date?.toISOString()).toBe(date);
  });
});

describe('organisationalDomain', () => {
  it.each([
    ['mx1.mail.example.net', 'example.net'],
    ['mx.example.co.uk.', 'example.co.uk'],
    ['localhost', undefined],
    ['[192.0.2.1]', undefined],
  ])('%s → %s', (host, org) => expect(organisationalDomain(host)).toBe(org));
});

describe('entryHop', () => {
  const internal = 'from mx1.mail.example.net (mx1.mail.example.net [198.51.100.20]) by store.mail.example.net with LMTP; Tue, 5 Mar 2024 14:22:12 +0000';
  const lan = 'from filter (filter.local [10.1.2.3]) by mx1.mail.example.net with ESMTP; Tue, 5 Mar 2024 14:22:11 +0000';
  const entry = 'from mail.customer.example (mail.customer.example [203.0.113.9]) by mx-in.mail.example.net (Postfix) with ESMTPS; Tue, 5 Mar 2024 14:22:10 +0000';
  const forged = 'from victim.example (victim.example [192.0.2.66]) by mail.customer.example; Tue, 5 Mar 2024 14:22:09 +0000';

  it('walks past the reporter relays and private hops to the first outside sender, never below it', () => {
    const found = entryHop([internal, lan, entry, forged], ['fbl.example.net']);
    expect(found.hop?.fromIp).toBe('203.0.113.9');
    expect(found.hop?.date?.toISOString()).toBe('2024-03-05T14:22:10.000Z');
  });

  it('never takes the reporter relay, even when the chain has nothing else', () => {
    expect(entryHop([internal, lan], ['example.net']).hop).toBeUndefined();
  });

  it('refuses a chain that leaves the reporter domains first', () => {
    const other = 'from relay.third.example (relay.third.example [203.0.113.50]) by gw.third.example; Tue, 5 Mar 2024 14:22:10 +0000';
    expect(entryHop([internal, other, entry], []).reason).toMatch(/gw\.third\.example/);
  });

  it("refuses a hop whose only claim to be the reporter's is its HELO", () => {
    const claim = 'from mx9.mail.example.net (unknown [203.0.113.77]) by mx-in.mail.example.net; Tue, 5 Mar 2024 14:22:10 +0000';
    const found = entryHop([internal, claim, entry], []);
    expect(found.hop).toBeUndefined();
    expect(found.reason).toMatch(/203\.0\.113\.77/);
  });

  it('says so when there is no Received header', () => {
    expect(entryHop([], ['example.net']).reason).toMatch(/no Received/);
  });
});
