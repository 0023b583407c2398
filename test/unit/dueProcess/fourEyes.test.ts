import { describe, expect, it } from 'vitest';
import { secondOperatorNeeded, type OperatorRequest } from '../../../controller/incidents/fourEyes.js';
import type { Incident } from '../../../controller/incidents/model.js';
import { DEFAULT_POLICY } from '../../../controller/incidents/policy.js';
import { incident } from '../store/storeFixtures.js';

const policy = DEFAULT_POLICY.fourEyes;
const overdueTrusted: Incident = incident({ trusted: true, overdue: true, state: 'enforced', openedBy: 'complaint' });
const ask = (over: Partial<OperatorRequest>): string | undefined =>
  secondOperatorNeeded({ action: { kind: 'smtp_block' }, hosts: 1, wholeCustomer: false, incident: overdueTrusted, operatorHostsLastHour: 0, operator: 'olga', ...over }, policy);

describe('four eyes: a policy on what is done', () => {
  it('lets one operator block SMTP or throttle one host, or cut one whose trusted complaint went unanswered past a deadline', () => {
    expect(ask({})).toBeUndefined();
    expect(ask({ action: { kind: 'throttle', rateBps: 1_000_000 }, incident: undefined })).toBeUndefined();
    expect(ask({ action: { kind: 'isolate' } })).toBeUndefined();
    expect(ask({ action: { kind: 'nic_down' } })).toBeUndefined();
  });

  it('needs a second operator for a cut without a trusted, overdue complaint behind it', () => {
    expect(ask({ action: { kind: 'isolate' }, incident: undefined })).toMatch(/isolate without a complaint/);
    expect(ask({ action: { kind: 'isolate' }, incident: { ...overdueTrusted, openedBy: 'operator' } })).toMatch(/without a complaint/);
    expect(ask({ action: { kind: 'nic_down' }, incident: { ...overdueTrusted, trusted: false } })).toMatch(/no trusted complaint/);
    expect(ask({ action: { kind: 'isolate' }, incident: { ...overdueTrusted, overdue: false } })).toMatch(/has not let a deadline pass/);
  });

  it('counts hosts, however they were asked: several at once, a whole customer, or one at a time past the hourly budget', () => {
    expect(ask({ hosts: 2 })).toMatch(/2 hosts/);
    expect(ask({ wholeCustomer: true, hosts: 1 })).toMatch(/whole customer/);
    expect(ask({ operatorHostsLastHour: policy.operatorHostsPerHour - 1 })).toBeUndefined();
    expect(ask({ operatorHostsLastHour: policy.operatorHostsPerHour })).toMatch(/olga acted alone on 5 hosts in the last hour \(at most 5\)/);
  });
});
