import type { DesiredState, Enforcement } from '../../proto/gen/cordon/v1/agent.js';
import type { Action } from '../incidents/model.js';
import type { StoredEnforcement } from '../store/DesiredStateRepo.js';

/** The wire form of one stored action. `smtpRelays` is the provider's smarthost list from the controller config. */
export function toProtoEnforcement(e: StoredEnforcement, smtpRelays: string[]): Enforcement {
  const base = { id: e.id, incidentId: e.incidentId, reason: e.reason };
  const a = e.action;
  switch (a.kind) {
    case 'smtp_block':
      return { ...base, action: { $case: 'smtpBlock', value: { ports: a.ports ?? [], allowedRelays: smtpRelays } } };
    case 'throttle':
      return { ...base, action: { $case: 'throttle', value: { rateBps: BigInt(a.rateBps) } } };
    case 'isolate':
      return { ...base, action: { $case: 'isolate', value: {} } };
    case 'nic_down':
      return { ...base, action: { $case: 'nicDown', value: {} } };
  }
}

export function toProtoState(generation: bigint, enforcements: StoredEnforcement[], issuedAt: Date, smtpRelays: string[]): DesiredState {
  return { generation, issuedAt, enforcements: enforcements.map((e) => toProtoEnforcement(e, smtpRelays)) };
}

/** "smtp_block", "throttle 10000000 bit/s", … for listings and mail. */
export function describeAction(a: Action): string {
  switch (a.kind) {
    case 'smtp_block':
      return a.ports?.length ? `smtp_block ${a.ports.join(',')}` : 'smtp_block';
    case 'throttle':
      return `throttle ${a.rateBps} bit/s`;
    default:
      return a.kind;
  }
}
