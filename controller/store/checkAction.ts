import { CordonError, type ErrorKind } from '../../proto/runtime/CordonError.js';
import type { Action, ActionKind } from '../incidents/model.js';

export const ACTION_KINDS = ['smtp_block', 'throttle', 'isolate', 'nic_down'] as const satisfies readonly ActionKind[];
// Fails to compile when model.ts gains a kind this list lacks.
const complete: ActionKind extends (typeof ACTION_KINDS)[number] ? true : never = true;
void complete;

/**
 * Validates one action as JSON data and returns it in its own shape (unknown
 * fields dropped). `kind` is `invalid` for input and `internal` for what a
 * row holds. The agent validates again; this keeps nonsense out of the store.
 */
export function checkAction(value: unknown, field: string, kind: ErrorKind = 'invalid'): Action {
  const fail = (message: string): never => {
    throw new CordonError(kind, message, { field });
  };
  if (typeof value !== 'object' || value === null) return fail('must be an action object');
  const a = value as Record<string, unknown>;
  switch (a.kind) {
    case 'smtp_block': {
      if (a.ports === undefined) return { kind: 'smtp_block' };
      const ports = a.ports;
      if (!Array.isArray(ports) || !ports.every((p) => Number.isInteger(p) && p >= 1 && p <= 65535)) {
        return fail('smtp_block ports must be a list of TCP ports (1-65535)');
      }
      return { kind: 'smtp_block', ports: ports as number[] };
    }
    case 'throttle':
      if (typeof a.rateBps !== 'number' || !Number.isSafeInteger(a.rateBps) || a.rateBps <= 0) {
        return fail('throttle rateBps must be a positive integer (bit/s)');
      }
      return { kind: 'throttle', rateBps: a.rateBps };
    case 'isolate':
      return { kind: 'isolate' };
    case 'nic_down':
      return { kind: 'nic_down' };
    default:
      return fail(`unknown action kind ${JSON.stringify(a.kind)}; one of ${ACTION_KINDS.join(', ')}`);
  }
}
