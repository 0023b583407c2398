import type { Cidr } from '../../proto/runtime/cidr.js';
import type { Desired, EnforcementPlan } from './plan.js';

export interface HostSettings {
  publicInterfaces: string[];
  /** Management networks plus the controller's own address. */
  managementNetworks: Cidr[];
  /** Ports an SMTP block covers when the enforcement names none. */
  defaultSmtpPorts: number[];
}

/**
 * Merges the active enforcements into one plan. Pure. When several ask for
 * the same kind, the stricter wins: the union of SMTP ports, only relays
 * every SMTP block allows, the lowest throttle rate.
 */
export function computePlan(desired: Desired | undefined, host: HostSettings): EnforcementPlan {
  const plan: EnforcementPlan = {
    publicInterfaces: [...host.publicInterfaces],
    managementNetworks: [...host.managementNetworks],
    smtp: undefined,
    isolate: false,
    throttleBps: undefined,
    linksDown: [],
  };
  for (const e of desired?.enforcements ?? []) {
    const a = e.action;
    switch (a.kind) {
      case 'smtp_block': {
        const ports = a.ports.length > 0 ? a.ports : host.defaultSmtpPorts;
        if (!plan.smtp) {
          plan.smtp = { ports: [...ports], allowedRelays: [...a.allowedRelays] };
        } else {
          plan.smtp.ports = [...new Set([...plan.smtp.ports, ...ports])];
          const allowed = new Set(a.allowedRelays.map((c) => c.text));
          plan.smtp.allowedRelays = plan.smtp.allowedRelays.filter((c) => allowed.has(c.text));
        }
        break;
      }
      case 'throttle':
        plan.throttleBps = Math.min(plan.throttleBps ?? Infinity, a.rateBps);
        break;
      case 'isolate':
        plan.isolate = true;
        break;
      case 'nic_down':
        plan.linksDown = [...host.publicInterfaces];
        break;
    }
  }
  if (plan.smtp) plan.smtp.ports.sort((x, y) => x - y);
  return plan;
}
