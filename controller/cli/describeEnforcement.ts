import type { Enforcement } from '../../proto/gen/cordon/v1/agent.js';
import type { Action } from '../incidents/model.js';
import { describeAction } from '../mail/describeAction.js';

/** A desired-state enforcement's action in the words the customer's notice uses (describeAction.ts). */
export function describeEnforcement(e: Enforcement): string {
  const a = e.action;
  let action: Action;
  switch (a?.$case) {
    case 'smtpBlock':
      action = { kind: 'smtp_block', ports: a.value.ports };
      break;
    case 'throttle':
      action = { kind: 'throttle', rateBps: Number(a.value.rateBps) };
      break;
    case 'isolate':
      action = { kind: 'isolate' };
      break;
    case 'nicDown':
      action = { kind: 'nic_down' };
      break;
    default:
      return 'unknown action';
  }
  return describeAction(action);
}
