import { CordonError } from '../../proto/runtime/CordonError.js';
import type { PortState } from './SwitchDriver.js';

/** `up`, `down` or `unknown`, for messages. */
export function describeAdmin(state: PortState): string {
  return state.adminUp === undefined ? 'unknown' : state.adminUp ? 'admin-up' : 'admin-down';
}

/**
 * A change that failed or did not take, after at least one command reached
 * the switch. `observed` is what a read-back found afterwards (`adminUp`
 * undefined when even that failed), so a caller never has to guess whether
 * the port is open. Kind `transient`: the same request may succeed later.
 */
export class SwitchPortError extends CordonError {
  readonly observed: PortState;

  constructor(what: string, observed: PortState, readNote?: string, cause?: unknown) {
    const after = `port ${observed.port} read back afterwards: ${describeAdmin(observed)}${readNote ? ` (${readNote})` : ''}`;
    super('transient', `${what}; ${after}`, { cause });
    this.name = 'SwitchPortError';
    this.observed = observed;
  }
}
