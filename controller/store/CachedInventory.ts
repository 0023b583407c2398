import { StaticInventory, type Host, type Inventory } from '../inventory/Inventory.js';
import type { HostsRepo } from './HostsRepo.js';

/**
 * The synchronous `Inventory` the agent link and DeskService use, served from
 * a snapshot of the hosts table. Hosts change rarely (an inventory import),
 * while `get` runs on every agent Hello; so the repo stays async and callers
 * that need sync reads hold this, and call `refresh()` after changing hosts.
 * The snapshot is swapped whole: readers never see half an import.
 */
export class CachedInventory implements Inventory {
  private constructor(
    private readonly hosts: HostsRepo,
    private snapshot: StaticInventory,
  ) {}

  static async load(hosts: HostsRepo): Promise<CachedInventory> {
    return new CachedInventory(hosts, new StaticInventory(await hosts.list()));
  }

  /** Re-reads every host; resolves once the new snapshot is in place. */
  async refresh(): Promise<void> {
    this.snapshot = new StaticInventory(await this.hosts.list());
  }

  get(hostId: string): Host | undefined {
    return this.snapshot.get(hostId);
  }

  list(): Host[] {
    return this.snapshot.list();
  }
}
