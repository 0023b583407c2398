import { describe, expect, it } from 'vitest';
import { banSeconds, nextOffence } from '../../../agent/guard/banTime.js';
import { activeGuardPolicy, DEFAULT_MAX_BANS } from '../../../agent/guard/guardPolicy.js';
import { renderBanTime, renderGuardTransaction } from '../../../agent/guard/guardRuleset.js';
import { readGuardSets } from '../../../agent/guard/readGuardSets.js';
import { parseCidr } from '../../../proto/runtime/cidr.js';
import { policy as guardPolicy } from '../../helpers/fakeGuardHost.js';

const policy = guardPolicy({ allowed: ['192.0.2.0/24'] });

describe('ban time growth', () => {
  it('doubles with each ban up to the cap, like fail2ban bantime.increment', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => banSeconds(n, 600, 86_400))).toEqual([600, 1200, 2400, 4800, 9600, 19200, 38400, 76800, 86400]);
    expect(banSeconds(10_000, 600, 86_400)).toBe(86_400);
    expect(banSeconds(0, 600, 86_400)).toBe(600);
    // A cap below the base is the base.
    expect(banSeconds(3, 600, 60)).toBe(600);
  });

  it('counts the next offence, and forgets a source that behaved for forgetAfter', () => {
    const now = Date.parse('2026-12-07T10:00:00Z');
    expect(nextOffence(undefined, now, 3600)).toBe(1);
    expect(nextOffence({ count: 3, lastEndMs: now - 1000 }, now, 3600)).toBe(4);
    expect(nextOffence({ count: 3, lastEndMs: now - 3_601_000 }, now, 3600)).toBe(1);
    // A ban still running (a restored one) counts.
    expect(nextOffence({ count: 2, lastEndMs: now + 60_000 }, now, 3600)).toBe(3);
  });
});

describe('the guard policy as the agent applies it', () => {
  it('is off when not enabled or guarding nothing', () => {
    expect(activeGuardPolicy(undefined)).toBeUndefined();
    expect(activeGuardPolicy({ ...policy, enabled: false })).toBeUndefined();
    expect(activeGuardPolicy({ ...policy, services: [{ name: 'ssh', ports: [0, 70_000], newConnectionsPerMinute: 10, burst: 5 }] })).toBeUndefined();
  });

  it('leaves out what nft would refuse, naming it, and holds the numbers to their bounds', () => {
    const dropped: string[] = [];
    const p = activeGuardPolicy(
      {
        ...policy,
        services: [...policy.services, { name: 'Bad Name;', ports: [80], newConnectionsPerMinute: 1, burst: 1 }, { name: 'ssh', ports: [2222], newConnectionsPerMinute: 1, burst: 1 }, { name: 'ftp', ports: [21, 21, 0], newConnectionsPerMinute: 5, burst: 0 }],
        allowed: ['192.0.2.0/24', 'not-an-address'],
        baseBanSeconds: 0,
        maxBanSeconds: 10 ** 9,
      },
      dropped,
    )!;
    expect(p.services.map((s) => [s.name, s.ports, s.burst])).toEqual([['ssh', [22], 5], ['ftp', [21], 1]]);
    expect(dropped).toEqual(['services[Bad Name;]', 'services[ssh]', 'allowed[not-an-address]']);
    expect(p.baseBanSeconds).toBe(1);
    expect(p.maxBanSeconds).toBe(365 * 86_400);
    expect(p.maxBans).toBe(DEFAULT_MAX_BANS);
  });
});

describe('the guard table', () => {
  const plan = {
    publicInterfaces: ['pub0'],
    never: [parseCidr('10.255.0.0/16'), parseCidr('fd00:ff::/64'), parseCidr('192.0.2.0/24')],
    services: activeGuardPolicy(policy)!.services,
    baseBanSeconds: 600,
    maxBans: 10_000,
    bans: [{ address: '198.51.100.7', family: 4 as const, seconds: 1234.2 }, { address: '2001:db8::9', family: 6 as const, seconds: 60 }],
    countHandshakes: true,
  };

  it('renders golden: never-ban sources before any meter, bans refused on the public interfaces only', async () => {
    await expect(renderGuardTransaction(plan)).toMatchFileSnapshot('../golden/guard/guard-table.nft');
    const text = renderGuardTransaction(plan);
    expect(text.indexOf('ip saddr @never_v4 return')).toBeLessThan(text.indexOf('update @m_ssh_v4'));
    expect(text).toContain('iifname @public_ifs jump from_public');
    expect(text).toContain('198.51.100.7 timeout 1235s');
    expect(renderGuardTransaction(undefined)).toBe('table inet cordon_guard\ndelete table inet cordon_guard\n');
    // A completed handshake is what a meter counts; without conntrack's accounting, the SYN.
    expect(text).toContain('tcp flags & (syn | ack | fin | rst) == ack ct direction original ct original packets 2 jump conn_in');
    const bySyn = renderGuardTransaction({ ...plan, countHandshakes: false });
    expect(bySyn).toContain('tcp flags & (syn | ack) == syn jump conn_in');
    expect(bySyn).not.toContain('ct original packets');
    expect(renderBanTime({ address: '198.51.100.7', family: 4, seconds: 1200 })).toBe('delete element inet cordon_guard ban_v4 { 198.51.100.7 }\nadd element inet cordon_guard ban_v4 { 198.51.100.7 timeout 1200s }\n');
  });

  it("reads nft's listing of bans and meters, and refuses what is not its JSON", () => {
    const json = JSON.stringify({
      nftables: [
        { metainfo: { version: '1.0.6' } },
        { set: { family: 'inet', name: 'ban_v4', table: 'cordon_guard', elem: [{ elem: { val: '198.51.100.7', timeout: 600, expires: 599 } }] } },
        { set: { family: 'inet', name: 'm_ssh_v4', table: 'cordon_guard', elem: [{ elem: { val: '198.51.100.7', timeout: 120, expires: 119 } }, '198.51.100.8'] } },
        { set: { family: 'inet', name: 'never_v4', table: 'cordon_guard', elem: [{ prefix: { addr: '10.0.0.0', len: 8 } }] } },
      ],
    });
    const l = readGuardSets(json);
    expect([...l.bans]).toEqual([['198.51.100.7', { family: 4, expiresS: 599 }]]);
    expect([...l.meters].map(([a, s]) => [a, [...s]])).toEqual([['198.51.100.7', ['ssh']], ['198.51.100.8', ['ssh']]]);
    expect(() => readGuardSets('Error: no such table')).toThrow(/not JSON/);
    expect(() => readGuardSets('{}')).toThrow(/no "nftables" array/);
  });
});
