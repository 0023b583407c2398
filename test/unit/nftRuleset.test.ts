import { describe, expect, it } from 'vitest';
import { renderTransaction } from '../../agent/backends/nftRuleset.js';
import { computePlan, type HostSettings } from '../../agent/enforce/computePlan.js';
import { parseDesired } from '../../agent/enforce/parseDesired.js';
import { parseCidr } from '../../proto/runtime/cidr.js';

const host: HostSettings = {
  publicInterfaces: ['pub0', 'pub1'],
  managementNetworks: [parseCidr('10.255.0.0/16'), parseCidr('fd00:ff::/64')],
  defaultSmtpPorts: [25, 465, 587],
};

const e = (id: string, action: Record<string, unknown>) => ({ id, incidentId: `inc-${id}`, reason: 'test', ...action });

// A sequence of desired states, as the controller would send them over an
// incident's life; each renders to the golden transaction beside this file.
const sequence: [string, unknown[]][] = [
  ['01-smtp-block', [e('a', { smtpBlock: { ports: [], allowedRelays: ['198.51.100.25', '2001:db8:25::/64'] } })]],
  ['02-smtp-block-and-throttle', [e('a', { smtpBlock: {} }), e('b', { throttle: { rateBps: '10000000' } })]],
  ['03-isolate-with-smtp', [e('a', { smtpBlock: {} }), e('c', { isolate: {} })]],
  ['04-nic-down-only', [e('d', { nicDown: {} })]],
  ['05-none', []],
];

describe('nft ruleset golden files', () => {
  sequence.forEach(([name, enforcements], i) => {
    it(`renders ${name}`, async () => {
      const plan = computePlan(parseDesired({ generation: String(i + 1), enforcements }), host);
      await expect(renderTransaction(plan)).toMatchFileSnapshot(`./golden/nft/${name}.nft`);
    });
  });

  it('renders the same text for the same plan', () => {
    const plan = computePlan(parseDesired({ generation: '1', enforcements: sequence[2]![1] }), host);
    expect(renderTransaction(plan)).toBe(renderTransaction(structuredClone(plan)));
  });
});
