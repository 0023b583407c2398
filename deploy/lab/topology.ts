/**
 * The lab's plan as data: which namespaces, links and addresses exist for N
 * dedicated servers. Pure, so `lab up`, `lab down`, the demo and the tests
 * agree on every name without sharing state.
 *
 *                      cordon-lab-inet  (the internet: 203.0.113.1, 2001:db8:1::1;
 *                            | inet0       SMTP sink on 25/587, HTTP on 80)
 *                            | up0
 *                      cordon-lab-sw    (the access switch: bridge br0; sshd on
 *                 swp1 /   swp2 |  ... \ swpN       eth0 10.70.0.2, on the management bridge)
 *                 pub0     pub0          pub0      (public: 203.0.113.1X)
 *           cordon-lab-h1  ...   cordon-lab-hN     (dedicated servers, each
 *                 mgmt0    mgmt0         mgmt0      with a cordon-agent)
 *                 m1   \    m2 |   ... / mN        (management: 10.70.0.1X)
 *                      cordon-lab-mgmt  (bridge br0 10.70.0.1: cordon-controller
 *                                        (or three replicas, --ha), the mail
 *                                        receiver, one ipmi_sim BMC per server
 *                                        at 10.70.0.10X)
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

/**
 * One cordon-controller process of the lab. With one controller its ports
 * are the lab's own (7443, 9477, the page and desk ports); with replicas
 * (`--ha`) the k-th takes each port + k, all on the management address.
 */
export interface LabController {
  /** `replica.id` on PostgreSQL, and the name of its config and log files. */
  id: string;
  /** host:port of its gRPC listener (agents, cordonctl). */
  address: string;
  port: number;
  metricsPort: number;
  /** Its customer page, on loopback inside the management namespace (the page bridge reaches every one). */
  pagePort: number;
  /** Its desk, on the management address (the desk bridge reaches every one). */
  deskPort: number;
}

export const MAX_CONTROLLERS = 3;

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
  /** The switch's management address (its sshd), on its `eth0`, joined to the management bridge by `switchMgmtPort`. */
  switch4: string;
  switchMgmtPort: string;
  hosts: LabHost[];
  /** One, or the replicas in the order cordonctl tries them; the first one's ports are the fields above. */
  controllers: LabController[];
}

export function labTopology(hostCount: number, controllerCount = 1): LabTopology {
  if (!Number.isInteger(hostCount) || hostCount < 1 || hostCount > MAX_HOSTS) {
    throw new RangeError(`--hosts must be a whole number from 1 to ${MAX_HOSTS}, got ${hostCount}`);
  }
  if (!Number.isInteger(controllerCount) || controllerCount < 1 || controllerCount > MAX_CONTROLLERS) {
    throw new RangeError(`the lab runs 1 to ${MAX_CONTROLLERS} controllers, got ${controllerCount}`);
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
  const controller4 = '10.70.0.1';
  const ports = { port: 7443, metricsPort: 9477, pagePort: Number(process.env.CORDON_LAB_PAGE_PORT) || 8480, deskPort: Number(process.env.CORDON_LAB_DESK_PORT) || 8443 };
  const controllers = Array.from({ length: controllerCount }, (_, k): LabController => ({
    id: controllerCount === 1 ? 'controller' : `replica-${String.fromCharCode(97 + k)}`,
    address: `${controller4}:${ports.port + k}`,
    port: ports.port + k,
    metricsPort: ports.metricsPort + k,
    pagePort: ports.pagePort + k,
    deskPort: ports.deskPort + k,
  }));
  return {
    mgmtNs: `${LAB_PREFIX}-mgmt`,
    switchNs: `${LAB_PREFIX}-sw`,
    inetNs: `${LAB_PREFIX}-inet`,
    mgmtNet4: '10.70.0.0/24',
    controller4,
    controllerPort: ports.port,
    controllerName: 'controller.lab',
    metricsPort: ports.metricsPort,
    mailPort: 2525,
    pagePort: ports.pagePort,
    deskPort: ports.deskPort,
    inet4: '203.0.113.1',
    inet6: '2001:db8:1::1',
    pubNet4: '203.0.113.0/24',
    switch4: '10.70.0.2',
    switchMgmtPort: 'msw',
    hosts,
    controllers,
  };
}

/** Every namespace of the lab, hosts last. */
export function labNamespaces(t: LabTopology): string[] {
  return [t.mgmtNs, t.switchNs, t.inetNs, ...t.hosts.map((h) => h.ns)];
}
