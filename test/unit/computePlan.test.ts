import { describe, expect, it } from 'vitest';
import { computePlan, type HostSettings } from '../../agent/enforce/computePlan.js';
import { parseDesired } from '../../agent/enforce/parseDesired.js';
import { parseCidr } from '../../proto/runtime/cidr.js';

const host: HostSettings = { publicInterfaces: ['pub0'], managementNetworks: [parseCidr('10.255.0.0/16')], defaultSmtpPorts: [25, 465, 587] };
const e = (id: string, action: Record<string, unknown>) => ({ id, incidentId: 'i', reason: 'r', ...action });

describe('computePlan', () => {
  it('is empty without enforcements', () => {
    expect(computePlan(undefined, host)).toMatchObject({ smtp: undefined, isolate: false, throttleBps: undefined, linksDown: [] });
  });

  it('uses the default SMTP ports when none are named', () => {
    expect(computePlan(parseDesired({ generation: 1, enforcements: [e('a', { smtpBlock: {} })] }), host).smtp!.ports).toEqual([25, 465, 587]);
  });

  it('lets the stricter enforcement win when several overlap', () => {
    const plan = computePlan(
      parseDesired({
        generation: 1,
        enforcements: [
          e('a', { smtpBlock: { ports: [25], allowedRelays: ['198.51.100.1', '198.51.100.2'] } }),
          e('b', { smtpBlock: { ports: [2525], allowedRelays: ['198.51.100.2'] } }),
          e('c', { throttle: { rateBps: 100_000_000 } }),
          e('d', { throttle: { rateBps: 10_000_000 } }),
          e('f', { nicDown: {} }),
        ],
      }),
      host,
    );
    expect(plan.smtp!.ports).toEqual([25, 2525]);
    expect(plan.smtp!.allowedRelays.map((c) => c.text)).toEqual(['198.51.100.2/32']);
    expect(plan.throttleBps).toBe(10_000_000);
    expect(plan.linksDown).toEqual(['pub0']);
  });
});
