/**
 * The lab's plan as data: which namespaces, links and addresses exist for N
 * dedicated servers. Pure, so `lab up`, `lab down`, the demo and the tests
 * agree on every name without sharing state.
 *
 *                      cordon-lab-inet  (the internet: 203.0.113.1, 2001:db8:1::1;
 *                            | inet0       SMTP sink on 25/587, HTTP on 80)
 *                            | up0
 *                      cordon-lab-sw    (the access switch: bridge br0)
 *                 swp1 /   swp2 |  ... \ swpN
 *                 pub0     pub0          pub0      (public: 203.0.113.1X)
 *           cordon-lab-h1  ...   cordon-lab-hN     (dedicated servers, each
 *                 mgmt0    mgmt0         mgmt0      with a cordon-agent)
 *                 m1   \    m2 |   ... / mN        (management: 10.70.0.1X)
 *                      cordon-lab-mgmt  (bridge br0 10.70.0.1: cordon-controller,
 *                                        the mail receiver, one ipmi_sim BMC per
 *                                        server at 10.70.0.10X)
 */
export const LAB_PREFIX = 'cordon-lab';
export const MAX_HOSTS = 40;

export interface LabHost {
  index: number;
  id: string;
  ns: string;
  /** The switch-side end of the host's public link. */
  switchPort: string;
  /** The management-bridge end of the host's management link. */
  mgmtPort: string;
  pub4: string;
  pub6: string;
  mgmt4: string;
  bmc4: string;
}

export interface LabTopology {
  mgmtNs: string;
  switchNs: string;
  inetNs: string;
  mgmtNet4: string;
  controller4: string;
  controllerPort: number;
  controllerName: string;
  metricsPort: number;
  mailPort: number;
  /** The customer page: on loopback inside the management namespace, and on the machine's loopback through a bridge. */
  pagePort: number;
  /** The desk in the browser: on the management network, and on the machine's loopback through a bridge. */
  deskPort: number;
  inet4: string;
  inet6: string;
  pubNet4: string;
  hosts: LabHost[];
}

export function labTopology(hostCount: number): LabTopology {
  if (!Number.isInteger(hostCount) || hostCount < 1 || hostCount > MAX_HOSTS) {
    throw new RangeError(`--hosts must be a whole number from 1 to ${MAX_HOSTS}, got ${hostCount}`);
  }
  const hosts = Array.from({ length: hostCount }, (_, k): LabHost => {
    const index = k + 1;
    return {
      index,
      id: `web-${String(index).padStart(2, '0')}`,
      ns: `${LAB_PREFIX}-h${index}`,
      switchPort: `swp${index}`,
      mgmtPort: `m${index}`,
      pub4: `203.0.113.${10 + index}`,
      pub6: `2001:db8:1::${(0x10 + index).toString(16)}`,
      mgmt4: `10.70.0.${10 + index}`,
      bmc4: `10.70.0.${100 + index}`,
    };
  });
  return {
    mgmtNs: `${LAB_PREFIX}-mgmt`,
    switchNs: `${LAB_PREFIX}-sw`,
    inetNs: `${LAB_PREFIX}-inet`,
    mgmtNet4: '10.70.0.0/24',
    controller4: '10.70.0.1',
    controllerPort: 7443,
    controllerName: 'controller.lab',
    metricsPort: 9477,
    mailPort: 2525,
    pagePort: Number(process.env.CORDON_LAB_PAGE_PORT) || 8480,
    deskPort: Number(process.env.CORDON_LAB_DESK_PORT) || 8443,
    inet4: '203.0.113.1',
    inet6: '2001:db8:1::1',
    pubNet4: '203.0.113.0/24',
    hosts,
  };
}

/** Every namespace of the lab, hosts last. */
export function labNamespaces(t: LabTopology): string[] {
  return [t.mgmtNs, t.switchNs, t.inetNs, ...t.hosts.map((h) => h.ns)];
}
