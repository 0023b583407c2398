import type { Logger } from '../../proto/runtime/logger.js';
import type { Clock } from '../clock.js';
import { isFirstLiveReplica } from '../replicas/isFirstLiveReplica.js';
import type { IncidentService } from '../services/IncidentService.js';
import type { Store } from '../store/Store.js';
import { DnsblIntake } from './DnsblIntake.js';
import { DnsblMonitor } from './dnsbl/DnsblMonitor.js';
import { dnsblSettings, type DnsblTunables } from './dnsbl/dnsblSettings.js';
import { publicAddresses } from './dnsbl/publicAddresses.js';

export interface DnsblMonitoringDeps {
  tunables: DnsblTunables;
  store: Store;
  service: Pick<IncidentService, 'submitComplaint'>;
  /** Whether the policy trusts reporter kind own_monitoring. */
  trusted: boolean;
  /** The incident clock: when filings and delistings are recorded. */
  clock: Clock;
  /** The wall clock: when a check saw what it saw, and replica liveness. */
  wall: Clock;
  /** One replica of several: this one's id, and after how long a silent replica counts as gone. */
  replica?: { id: string; deadAfterMs: number } | undefined;
  log: Logger;
}

/**
 * The DNSBL monitor wired to the controller: it watches every public
 * address of the hosts in the store (read at each check, so hosts added or
 * changed are checked from the next one), files listings and notes
 * delistings through DnsblIntake, and starts from what was filed before.
 * With replicas, only the replica whose id sorts first among the live ones
 * runs the scheduled checks; DnsblIntake makes a second filing harmless
 * when two overlap. Not started: the caller starts and stops it. Throws
 * CordonError `invalid` for bad tunables.
 */
export function createDnsblMonitor(d: DnsblMonitoringDeps): DnsblMonitor {
  const log = d.log.child({ component: 'dnsbl' });
  const { zones } = dnsblSettings(d.tunables);
  const intake = new DnsblIntake({
    store: d.store,
    submit: (input, actor) => d.service.submitComplaint(input, actor),
    trusted: d.trusted,
    zones,
    clock: () => d.clock.now(),
    log,
  });
  // Each prefix that is not checked in full is said once per process, not at every check.
  const told = new Set<string>();
  const replica = d.replica;
  return new DnsblMonitor({
    ...d.tunables,
    addresses: async () => {
      const { addresses, unchecked } = publicAddresses(await d.store.hosts.list());
      for (const u of unchecked) {
        if (told.has(`${u.hostId} ${u.prefix}`)) continue;
        told.add(`${u.hostId} ${u.prefix}`);
        log.warn({ host: u.hostId, prefix: u.prefix, checked: u.checked, reason: u.reason }, 'dnsbl: a public prefix is not checked in full');
      }
      return addresses;
    },
    onListed: async (l) => void (await intake.onListed(l)),
    onDelisted: (x) => intake.onDelisted(x),
    reported: () => intake.reported(),
    ...(replica ? { mayCheck: () => isFirstLiveReplica(d.store.replicas, replica.id, d.wall.now(), replica.deadAfterMs) } : {}),
    clock: () => d.wall.now(),
    log: d.log,
  });
}
