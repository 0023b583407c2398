import { describe, expect, it } from 'vitest';
import { authenticationWords } from '../../../controller/web/desk/authenticationWords.js';

describe('authenticationWords for a DNSBL listing', () => {
  it('says the provider asked the list itself, and reads the dns check with the list\'s reason', () => {
    const w = authenticationWords(
      JSON.stringify({
        trusted: true,
        via: 'dnsbl',
        reporterKind: 'own_monitoring',
        reason: 'listed on zen.spamhaus.org (SBL) when Cordon asked about 203.0.113.2',
        checks: [{ method: 'dns', result: '127.0.0.2', domain: 'zen.spamhaus.org', detail: 'https://check.spamhaus.org/sbl/query/SBL1' }],
      }),
    );
    expect(w.verdict).toBe("Trusted: authenticated as a reporter of kind own_monitoring by a DNS blocklist's answer to Cordon's own query about the address (the provider's own monitoring; the list's reason is in the check below).");
    expect(w.checks).toEqual(['DNS: 127.0.0.2 for zen.spamhaus.org (https://check.spamhaus.org/sbl/query/SBL1)']);
  });
});
