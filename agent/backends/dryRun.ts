import type { Log } from '../../proto/runtime/Log.js';
import type { HostBackends, TcObservedShape } from '../enforce/Engine.js';
import type { EnforcementPlan } from '../enforce/plan.js';
import type { LinkObserved } from './linkBackend.js';
import type { NftObserved } from './nftBackend.js';
import { needsTable, renderTransaction } from './nftRuleset.js';

/**
 * Backends that change nothing on the host: they log what the Linux backends
 * would do (the nft transaction, the tc rate, the links) and report it back as
 * observed. For trying a configuration, and for hosts where Cordon should
 * only watch. Chosen with `"backend": "dry-run"`.
 */
export function createDryRunBackends(log: Log): HostBackends {
  let plan: EnforcementPlan | undefined;
  const downed = new Set<string>();
  const nft = {
    name: 'nftables',
    async apply(p: EnforcementPlan) {
      plan = p;
      log.info({ transaction: renderTransaction(p) }, 'dry-run: would run nft -f -');
    },
    async observe(): Promise<NftObserved> {
      const present = plan !== undefined && needsTable(plan);
      return {
        present,
        isolate: present && plan!.isolate,
        smtpBlock: present && plan!.smtp !== undefined,
        fingerprint: present ? renderTransaction(plan!) : 'absent',
        counters: {},
      };
    },
    async release(p: EnforcementPlan) {
      plan = { ...p, smtp: undefined, isolate: false };
      log.info('dry-run: would delete table inet cordon');
    },
  };
  const tc = {
    name: 'tc',
    async apply(p: EnforcementPlan) {
      log.info({ rateBps: p.throttleBps ?? null, interfaces: p.publicInterfaces }, 'dry-run: would set the throttle');
    },
    async observe(p: EnforcementPlan): Promise<TcObservedShape> {
      const on = plan?.throttleBps !== undefined;
      return { interfaces: p.publicInterfaces.map((name) => ({ name, rateBps: plan?.throttleBps, egress: on, ingress: on })) };
    },
    async release() {
      if (plan) plan = { ...plan, throttleBps: undefined };
      log.info('dry-run: would remove the throttle');
    },
  };
  const link = {
    name: 'link',
    async refusal() {
      return undefined;
    },
    downedByCordon: () => [...downed],
    restoreDowned: (names: string[]) => names.forEach((n) => downed.add(n)),
    async apply(p: EnforcementPlan) {
      downed.clear();
      p.linksDown.forEach((n) => downed.add(n));
      if (p.linksDown.length > 0) log.info({ interfaces: p.linksDown }, 'dry-run: would set links down');
    },
    async observe(p: EnforcementPlan): Promise<LinkObserved> {
      return { links: p.publicInterfaces.map((name) => ({ name, exists: true, up: !downed.has(name) })) };
    },
    async release() {
      downed.clear();
    },
  };
  return { nft, tc, link };
}
