import { execFileSync, spawn } from 'node:child_process';
import { connect as tlsConnect } from 'node:tls';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { packageRoot } from '../../proto/runtime/version.js';
import { IPMI_SIM_EMU, ipmiSimLanConf } from './ipmiSimConfig.js';
import { liveController, startLabControllers, type RunningController } from './labControllers.js';
import { startLabPostgres, stopLabPostgres, type LabPostgres } from './labPostgres.js';
import { LAB_ATTACKER, LAB_DNS, LAB_REPORTER, startLabDns } from './labReporters.js';
import { buildLabNetwork, existingLabNamespaces, removeLabNetwork } from './network.js';
import { namespacePids, poll, runInNamespace, startInNamespace, stopPids, waitListening } from './processes.js';
import { labTopology, type LabHost, type LabTopology } from './topology.js';
import { LAB_SWITCH_SILENT_SECONDS } from './labControllers.js';
import { labSwitchPorts, startLabSwitch, type LabSwitch } from './labSwitch.js';
import { startLabAgent } from './labHosts.js';

const root = packageRoot();
const dist = join(root, 'dist');

/** Where the lab keeps its PKI, configs, store, mail and logs: tmpfs, gone at reboot. */
export function labDir(): string {
  return process.env.CORDON_LAB_DIR || '/run/cordon-lab';
}

/** The passphrase of the lab operator's .p12 (a lab, on tmpfs; never a real one). */
export const LAB_P12_PASSPHRASE = 'cordon-lab-desk';

/** The operators the lab's PKI issues: one desk operator and one admin. */
export const LAB_OPERATORS = { operator: 'olga', admin: 'ada' } as const;

/** How many controller replicas the lab runs on PostgreSQL (`--ha`): the README's usual answer, so one can be killed and two carry on. */
export const LAB_REPLICAS = 3;

export interface LabInfo {
  dir: string;
  topology: LabTopology;
  customer: { id: string; name: string; email: string };
  startedAt: string;
  /** Where a browser on this machine opens the customer page (links in the lab's notices start with it). */
  pageUrl: string;
  /** The controller, or the replicas in the order cordonctl tries them (labCtl takes the first one running). */
  controllers: RunningController[];
  /** The replicas' throw-away database (`store: 'postgresql'`); absent on SQLite. */
  postgres?: LabPostgres;
  /** The access switch's sshd, as the inventory's switchPorts name it. */
  switch?: LabSwitch;
}

type Say = (line: string) => void;

/**
 * Builds the whole lab and starts its processes; returns once every agent
 * is connected. Anything left by an earlier run (also a crashed one) is
 * removed first. On failure it tears down what it made and rethrows.
 * `store: 'postgresql'` runs LAB_REPLICAS controller replicas on a
 * throw-away PostgreSQL cluster instead of one controller on SQLite (the
 * caller checks labPostgresMissing first); agents then list every replica.
 */
export async function labUp(opts: { hosts: number; say: Say; store?: 'sqlite' | 'postgresql' }): Promise<LabInfo> {
  const replicated = opts.store === 'postgresql';
  const t = labTopology(opts.hosts, replicated ? LAB_REPLICAS : 1);
  await labDown(() => {});
  const dir = labDir();
  const info: LabInfo = {
    dir,
    topology: t,
    customer: { id: 'acme', name: 'ACME Hosting Ltd', email: 'ops@acme.example' },
    startedAt: new Date().toISOString(),
    pageUrl: `http://127.0.0.1:${t.pagePort}`,
    controllers: [],
  };
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const sub of ['logs', 'mail', 'bin']) mkdirSync(join(dir, sub), { recursive: true });
    const logs = join(dir, 'logs');
    opts.say(`making the lab's PKI in ${dir}/pki: a CA, the controller (${t.controllerName}), ${t.hosts.length} agents, operators ${LAB_OPERATORS.operator} (abuse_operator) and ${LAB_OPERATORS.admin} (admin)`);
    makePki(dir, t);
    opts.say(`building namespaces: ${t.mgmtNs} (management ${t.mgmtNet4}), ${t.switchNs}, ${t.inetNs} (${t.inet4}), ${t.hosts.map((h) => h.ns).join(', ')}`);
    buildLabNetwork(t);

    const node = process.execPath;
    const sink = startInNamespace(t.inetNs, 'internet-sink', logs, node, [join(dist, 'deploy/lab/servers/sink.js'), '25', '587', '80']);
    await waitListening(t.inetNs, 'tcp', 80, 'the internet sink', sink);
    const mail = startInNamespace(t.mgmtNs, 'mail-receiver', logs, node, [join(dist, 'deploy/lab/servers/mailReceiver.js'), t.controller4, String(t.mailPort), join(dir, 'mail')]);
    await waitListening(t.mgmtNs, 'tcp', t.mailPort, 'the mail receiver', mail);
    for (const h of t.hosts) {
      const pid = startInNamespace(h.ns, `${h.id}-sshd-standin`, logs, node, [join(dist, 'deploy/lab/servers/sink.js'), '22']);
      await waitListening(h.ns, 'tcp', 22, `${h.id}'s management listener`, pid);
    }
    opts.say(`starting ${t.hosts.length} ipmi_sim BMCs on the management network (${t.hosts.map((h) => `${h.bmc4}:623`).join(', ')})`);
    for (const h of t.hosts) {
      const pid = startBmc(dir, t, h);
      await waitListening(t.mgmtNs, 'udp', 623, `${h.id}'s BMC`, pid, 10_000, h.bmc4);
    }
    opts.say(`starting the lab DNS (dnsmasq, ${LAB_DNS.address}:${LAB_DNS.port} in ${t.mgmtNs}): DKIM keys and DMARC policies of ${LAB_REPORTER.domain} (a registered reporter) and ${LAB_ATTACKER.domain}`);
    await startLabDns(dir, t);
    info.switch = await startLabSwitch(dir, t);
    opts.say(`starting the access switch's sshd (OpenSSH, key login only) on ${t.switch4}:22 in ${t.switchNs}: host key ${info.switch.hostKeySha256} pinned in the inventory; the controller shuts a server's port (swpN) there when its agent is silent ${LAB_SWITCH_SILENT_SECONDS} s while it should be cut`);
    writeInventory(dir, info);
    if (replicated) {
      info.postgres = await startLabPostgres(dir);
      opts.say(`started a throw-away PostgreSQL cluster in ${info.postgres.dir} (Unix socket only, run as the postgres user)`);
      opts.say(`starting ${t.controllers.length} cordon-controller replicas on one database: ${t.controllers.map((c) => `${c.id} on ${c.address}`).join(', ')} (mutual TLS, drill clock, mail to ${t.controller4}:${t.mailPort})`);
    } else {
      opts.say(`starting cordon-controller on ${t.controller4}:${t.controllerPort} (mutual TLS, drill clock, mail to ${t.controller4}:${t.mailPort})`);
    }
    info.controllers = await startLabControllers(dir, t, info.postgres);
    await startBridge(dir, t, {
      name: 'page',
      targets: t.controllers.map((c) => ({ host: '127.0.0.1', port: c.pagePort })),
      hostPort: t.pagePort,
      portEnv: 'CORDON_LAB_PAGE_PORT',
      ready: () => fetch(`http://127.0.0.1:${t.pagePort}/healthz`).then((r) => r.ok).catch(() => false),
    });
    opts.say(`the customer page: http://127.0.0.1:${t.pagePort} in ${t.mgmtNs}, and the same on this machine's loopback through ${join(dir, 'page.sock')}`);
    await startBridge(dir, t, {
      name: 'desk',
      targets: t.controllers.map((c) => ({ host: t.controller4, port: c.deskPort })),
      hostPort: t.deskPort,
      portEnv: 'CORDON_LAB_DESK_PORT',
      ready: () => tlsAnswers(t.deskPort),
    });
    opts.say(`the abuse desk in the browser: https://${t.controller4}:${t.deskPort} on the management network, and https://127.0.0.1:${t.deskPort} on this machine (mutual TLS)`);
    opts.say(`starting cordon-agent on ${t.hosts.map((h) => h.id).join(', ')} (each in its own namespace, enforcing with nft, tc and ip)`);
    for (const h of t.hosts) {
      writeAgentConfig(dir, t, h);
      startLabAgent(dir, h);
    }
    writeCtlWrapper(dir, t, info.controllers);
    writeFileSync(join(dir, 'lab.json'), JSON.stringify(info, null, 2) + '\n');
    const connected = await poll(() => {
      const agents = JSON.parse(labCtl(info, LAB_OPERATORS.operator, 'agents', '--json')) as { hostId: string; state: string }[];
      return t.hosts.every((h) => agents.some((a) => a.hostId === h.id && a.state === 'connected')) ? true : undefined;
    }, 30_000);
    if (!connected) throw new Error(`not every agent connected within 30 s; see ${logs}/agent-*.log`);
    return info;
  } catch (err) {
    const logs = join(dir, 'logs');
    const keepLogs = process.env.CORDON_LAB_KEEP_LOGS_ON_FAILURE === '1';
    await labDown(() => {}, { keepDir: keepLogs });
    throw new Error(`${(err as Error).message}${keepLogs ? ` (logs kept in ${logs})` : ''}`);
  }
}

/**
 * Stops every process in the lab's namespaces, deletes the namespaces and
 * the lab's folder. Idempotent, and works after a crashed run: it finds the
 * lab by its namespace names, not by a record a crash could have lost.
 */
export async function labDown(say: Say, opts: { keepDir?: boolean } = {}): Promise<{ namespaces: number; processes: number }> {
  const namespaces = existingLabNamespaces();
  const pids = [...new Set(namespaces.flatMap(namespacePids))].filter((p) => p !== process.pid);
  if (pids.length > 0) say(`stopping ${pids.length} lab processes`);
  await stopPids(pids);
  await stopBridges();
  // After the controllers, which would only log the database going away.
  await stopLabPostgres(labDir()).then(
    (pgDir) => pgDir && say(`stopped the PostgreSQL cluster and removed ${pgDir}`),
    (err: Error) => say(`cannot stop the lab's PostgreSQL cluster: ${err.message}`),
  );
  const gone = removeLabNetwork();
  if (gone.length > 0) say(`deleted namespaces ${gone.join(', ')}`);
  if (!opts.keepDir) rmSync(labDir(), { recursive: true, force: true });
  return { namespaces: gone.length, processes: pids.length };
}

/** The running lab's description, or undefined when none is up. */
export function labInfo(): LabInfo | undefined {
  const file = join(labDir(), 'lab.json');
  if (!existsSync(file) || existingLabNamespaces().length === 0) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as LabInfo;
}

/** Runs cordonctl as `operator` from the management namespace, against the first controller running; returns stdout, throws with stderr. */
export function labCtl(info: LabInfo, operator: string, ...args: string[]): string {
  const t = info.topology;
  return runInNamespace(t.mgmtNs, process.execPath, [
    '--disable-warning=DEP0123',
    join(dist, 'controller/cli/cordonctl.cjs'),
    '--controller', liveController(info.controllers).address,
    '--server-name', t.controllerName,
    '--pki', join(info.dir, 'pki'),
    '--operator', operator,
    ...args,
  ]);
}

/** One TCP connection attempt from inside a namespace: connected, refused, timeout, unreachable. */
export function labProbe(ns: string, host: string, port: number, timeoutMs = 1_500): string {
  return runInNamespace(ns, process.execPath, [join(dist, 'deploy/lab/servers/probe.js'), host, String(port), String(timeoutMs)]).trim();
}

/** A lab service that lives in the management namespace and is bridged to this machine's loopback. */
interface Bridged {
  name: string;
  /** Where it listens inside the management namespace: each controller's listener, tried in order (a dead replica's refuses at once). */
  targets: { host: string; port: number }[];
  /** The port on this machine's 127.0.0.1. */
  hostPort: number;
  /** Answers when the service is up through the bridge. */
  ready: () => Promise<boolean>;
  portEnv: string;
}

/**
 * The customer page and the desk are served inside the management
 * namespace; a browser on this machine lives in the root one. A bridge in
 * each joins them through a unix socket in the lab folder (see
 * servers/socketBridge.ts; bytes are copied, so TLS passes through). The
 * root-side bridge is in no lab namespace, so its pid is kept in a file for
 * labDown.
 */
async function startBridge(dir: string, t: LabTopology, b: Bridged): Promise<void> {
  const socket = join(dir, `${b.name}.sock`);
  const bridge = join(dist, 'deploy/lab/servers/socketBridge.js');
  startInNamespace(t.mgmtNs, `${b.name}-bridge-mgmt`, join(dir, 'logs'), process.execPath, [bridge, 'unix-to-tcp', socket, ...b.targets.flatMap((x) => [x.host, String(x.port)])]);
  if (!(await poll(() => (existsSync(socket) ? true : undefined), 10_000))) throw new Error(`the ${b.name} bridge did not create ${socket}`);
  const log = join(dir, 'logs', `${b.name}-bridge-host.log`);
  const fd = openSync(log, 'a', 0o600);
  const child = spawn(process.execPath, [bridge, 'tcp-to-unix', '127.0.0.1', String(b.hostPort), socket], { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  writeFileSync(join(dir, `${b.name}-bridge.pid`), `${child.pid}\n`);
  const up = await poll(async () => {
    if (child.exitCode !== null) throw new Error(`the ${b.name} bridge on 127.0.0.1:${b.hostPort} exited; is the port taken? (set ${b.portEnv}) see ${log}`);
    return (await b.ready()) ? true : undefined;
  }, 15_000);
  if (!up) throw new Error(`the ${b.name} does not answer on 127.0.0.1:${b.hostPort}; see ${dir}/logs`);
}

async function stopBridges(): Promise<void> {
  for (const name of ['page', 'desk']) {
    const file = join(labDir(), `${name}-bridge.pid`);
    if (!existsSync(file)) continue;
    const pid = Number(readFileSync(file, 'utf8').trim());
    // A pid file that outlived a reboot may name someone else's process now: only a bridge is stopped.
    const cmdline = Number.isInteger(pid) && pid > 1 ? (() => { try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { return ''; } })() : '';
    if (cmdline.includes('socketBridge.js')) await stopPids([pid]);
    rmSync(file, { force: true });
  }
}

/** Whether something accepts a TLS handshake on 127.0.0.1:port (the desk asks for a client certificate; refusing ours afterwards is fine). */
function tlsAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, timeout: 1_000 });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.once('secureConnect', () => done(true));
    sock.once('error', () => done(false));
    sock.once('timeout', () => done(false));
  });
}

function makePki(dir: string, t: LabTopology): void {
  const pki = (...args: string[]) => execFileSync(join(root, 'deploy/pki/cordon-pki'), ['--dir', join(dir, 'pki'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  pki('init');
  pki('issue-controller', t.controllerName, t.controller4, '127.0.0.1');
  for (const h of t.hosts) pki('issue-agent', h.id);
  pki('issue-operator', LAB_OPERATORS.operator, 'abuse_operator');
  pki('issue-operator', LAB_OPERATORS.admin, 'admin');
  // The desk operator's certificate for a browser's store (PKCS#12), with the lab's known passphrase.
  execFileSync(join(root, 'deploy/pki/cordon-pki'), ['--dir', join(dir, 'pki'), 'export-p12', LAB_OPERATORS.operator], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, CORDON_P12_PASSPHRASE: LAB_P12_PASSPHRASE },
  });
}

function startBmc(dir: string, t: LabTopology, h: LabHost): number {
  const bmcDir = join(dir, 'bmc', h.id);
  mkdirSync(bmcDir, { recursive: true, mode: 0o700 });
  const password = randomBytes(8).toString('hex');
  writeFileSync(join(bmcDir, 'password'), password, { mode: 0o600 });
  writeFileSync(join(bmcDir, 'lan.conf'), ipmiSimLanConf({ name: `${h.id}-bmc`, address: h.bmc4, port: 623, user: 'cordon', password }), { mode: 0o600 });
  writeFileSync(join(bmcDir, 'sim.emu'), IPMI_SIM_EMU);
  return startInNamespace(t.mgmtNs, `${h.id}-bmc`, join(dir, 'logs'), 'ipmi_sim', ['-c', join(bmcDir, 'lan.conf'), '-f', join(bmcDir, 'sim.emu'), '-s', bmcDir, '-n']);
}

function writeInventory(dir: string, info: LabInfo): void {
  const t = info.topology;
  const inventory = {
    customers: [info.customer],
    hosts: t.hosts.map((h) => ({
      id: h.id,
      customerId: info.customer.id,
      publicPrefixes: [`${h.pub4}/32`, `${h.pub6}/128`],
      managementAddress: h.mgmt4,
      bmc: { address: h.bmc4, port: 623, user: 'cordon', passwordFile: join(dir, 'bmc', h.id, 'password') },
    })),
    ...(info.switch ? { switchPorts: labSwitchPorts(t, info.switch) } : {}),
  };
  writeFileSync(join(dir, 'inventory.json'), JSON.stringify(inventory, null, 2) + '\n');
}

function writeAgentConfig(dir: string, t: LabTopology, h: LabHost): void {
  const hostDir = join(dir, 'hosts', h.id);
  mkdirSync(hostDir, { recursive: true, mode: 0o700 });
  const pki = join(dir, 'pki');
  const config = {
    hostId: h.id,
    // Replicas: every one's address; the agent starts at a random one and moves to the next when its stream ends.
    controller: { ...(t.controllers.length > 1 ? { addresses: t.controllers.map((c) => c.address) } : { address: t.controllers[0]!.address }), serverName: t.controllerName },
    tls: { ca: join(pki, 'ca.crt'), cert: join(pki, `agent-${h.id}.crt`), key: join(pki, `agent-${h.id}.key`) },
    heartbeatSeconds: 2,
    reconnect: { initialMs: 200, maxMs: 2_000 },
    interfaces: { public: ['pub0'], management: ['mgmt0'] },
    managementNetworks: [t.mgmtNet4],
    driftCheckSeconds: 5,
    stateDir: join(hostDir, 'state'),
  };
  writeFileSync(join(hostDir, 'agent.json'), JSON.stringify(config, null, 2) + '\n');
}

/**
 * `<lab>/bin/cordonctl`: cordonctl from the management network, as
 * $CORDON_OPERATOR (default olga); with replicas, against the first one
 * still running (as labCtl), or $CORDON_CONTROLLER.
 */
function writeCtlWrapper(dir: string, t: LabTopology, controllers: RunningController[]): void {
  const file = join(dir, 'bin', 'cordonctl');
  const pick =
    controllers.length > 1
      ? [
          `# The first replica still running: ${controllers.map((c) => `${c.id} (pid ${c.pid})`).join(', ')}.`,
          'controller=',
          `for c in ${controllers.map((c) => `${c.pid}=${c.address}`).join(' ')}; do`,
          '  if [ -z "$controller" ] && kill -0 "${c%%=*}" 2>/dev/null; then controller=${c#*=}; fi',
          'done',
        ]
      : [];
  const address = controllers.length > 1 ? `"\${CORDON_CONTROLLER:-\${controller:-${controllers[0]!.address}}}"` : `${t.controller4}:${t.controllerPort}`;
  writeFileSync(
    file,
    [
      '#!/bin/sh',
      '# cordonctl against the lab controller, from the management namespace.',
      ...pick,
      `exec ip netns exec ${t.mgmtNs} ${process.execPath} --disable-warning=DEP0123 ${join(dist, 'controller/cli/cordonctl.cjs')} \\`,
      `  --controller ${address} --server-name ${t.controllerName} --pki ${join(dir, 'pki')} \\`,
      `  --operator "\${CORDON_OPERATOR:-${LAB_OPERATORS.operator}}" "$@"`,
      '',
    ].join('\n'),
  );
  chmodSync(file, 0o755);
}
