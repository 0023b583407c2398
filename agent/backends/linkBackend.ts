import { CordonError } from '../../proto/runtime/CordonError.js';
import { parseIp, cidrContains, formatIp, type Cidr } from '../../proto/runtime/cidr.js';
import type { EnforcementPlan } from '../enforce/plan.js';
import { runChecked, type CommandRunner } from '../../proto/runtime/CommandRunner.js';
import type { Backend } from './Backend.js';

export interface LinkObserved {
  /** Administrative state (the UP flag) of each public interface. */
  links: { name: string; up: boolean; exists: boolean }[];
}

interface IpLink {
  ifname: string;
  flags?: string[];
}
interface IpAddr {
  ifname: string;
  addr_info?: { local: string }[];
}
interface IpRoute {
  dev?: string;
}

/**
 * NIC_DOWN: holds public interfaces link-down. It raises only links it downed
 * itself (`downed`, persisted by the engine), so a port the customer keeps
 * down on purpose stays down after a release.
 */
export class LinkBackend implements Backend<LinkObserved> {
  readonly name = 'link';
  private downed = new Set<string>();

  constructor(
    private readonly runner: CommandRunner,
    /** Addresses that must stay reachable: the controller's, resolved at start. */
    private readonly protectedAddresses: string[] = [],
  ) {}

  /** Links Cordon holds down, to be saved with the desired state. */
  downedByCordon(): string[] {
    return [...this.downed].sort();
  }

  restoreDowned(names: string[]): void {
    this.downed = new Set(names);
  }

  /**
   * Why setting `iface` down would cut the management path, if it would: the
   * interface holds a management address, or the route to a management
   * network or to the controller leaves through it.
   */
  async refusal(iface: string, plan: EnforcementPlan): Promise<string | undefined> {
    const addrs = JSON.parse(await runChecked(this.runner, 'ip', ['-j', 'addr', 'show', 'dev', iface])) as IpAddr[];
    for (const a of addrs.flatMap((x) => x.addr_info ?? [])) {
      const mgmt = plan.managementNetworks.find((c) => safeContains(c, a.local));
      if (mgmt) return `${iface} carries management address ${a.local} (${mgmt.text})`;
    }
    const targets = [
      ...plan.managementNetworks.map((c) => ({ ip: formatIp(c.family, c.network), what: `management network ${c.text}` })),
      ...this.protectedAddresses.map((ip) => ({ ip, what: `the controller at ${ip}` })),
    ];
    for (const t of targets) {
      const r = await this.runner.run('ip', ['-j', 'route', 'get', t.ip]);
      if (r.code !== 0) continue; // unreachable from here: no route leaves through iface
      const routes = JSON.parse(r.stdout) as IpRoute[];
      if (routes.some((x) => x.dev === iface)) return `the route to ${t.what} leaves through ${iface}`;
    }
    return undefined;
  }

  async apply(plan: EnforcementPlan): Promise<void> {
    const observed = await this.observe(plan);
    const errors: string[] = [];
    for (const link of observed.links) {
      if (!link.exists) continue;
      const wantDown = plan.linksDown.includes(link.name);
      try {
        if (wantDown && link.up) {
          // The engine saved this link as downed before calling apply.
          this.downed.add(link.name);
          await runChecked(this.runner, 'ip', ['link', 'set', 'dev', link.name, 'down']);
        } else if (!wantDown && this.downed.has(link.name)) {
          if (!link.up) await runChecked(this.runner, 'ip', ['link', 'set', 'dev', link.name, 'up']);
          this.downed.delete(link.name);
        }
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    const missing = plan.linksDown.filter((n) => !observed.links.find((l) => l.name === n)?.exists);
    if (missing.length > 0) errors.push(`no such interface: ${missing.join(', ')}`);
    if (errors.length > 0) throw new CordonError('transient', errors.join('; '));
  }

  async observe(plan: EnforcementPlan): Promise<LinkObserved> {
    const all = JSON.parse(await runChecked(this.runner, 'ip', ['-j', 'link', 'show'])) as IpLink[];
    return {
      links: plan.publicInterfaces.map((name) => {
        const link = all.find((l) => l.ifname === name);
        return { name, exists: link !== undefined, up: link?.flags?.includes('UP') ?? false };
      }),
    };
  }

  async release(plan: EnforcementPlan): Promise<void> {
    await this.apply({ ...plan, linksDown: [] });
  }
}

function safeContains(c: Cidr, ip: string): boolean {
  try {
    parseIp(ip);
    return cidrContains(c, ip);
  } catch {
    return false;
  }
}
