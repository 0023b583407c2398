import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../proto/runtime/version.js';
import { LAB_DNS, LAB_REPORTER } from './labReporters.js';
import type { LabPostgres } from './labPostgres.js';
import { running, startInNamespace, waitListening } from './processes.js';
import type { LabController, LabTopology } from './topology.js';

/**
 * The lab's switch-fallback window: an agent silent this long while its host
 * should be cut loses the host's switch port. Short so the demo's escape
 * chapter and the escape benchmark see the handover in seconds; production
 * keeps the default 90 s (three missed 30 s heartbeats), so that an agent
 * upgrade, a restart or a blip on the management network never takes a
 * customer's whole port down, and no switch sees an SSH login per blip.
 */
export const LAB_SWITCH_SILENT_SECONDS = 10;

/** A started controller of the lab: the topology's entry and its process. */
export interface RunningController {
  id: string;
  address: string;
  pid: number;
}

/**
 * The first controller still running, in the topology's order: where
 * cordonctl goes. With replicas, one may have been killed (the demo's
 * `--ha` story does); with one controller it is that one, dead or not, so
 * the caller sees its error.
 */
export function liveController(controllers: readonly RunningController[]): RunningController {
  const first = controllers[0];
  if (!first) throw new Error('the lab has no controller');
  return controllers.find((c) => running(c.pid)) ?? first;
}

/**
 * Writes each controller's config (`<lab>/<id>.json`: `controller.json`
 * alone on SQLite) and starts them all at once in the management
 * namespace; resolves when every one listens. On PostgreSQL the replicas
 * share the database, and the first to take the migration lock migrates
 * while the others wait on it.
 */
export async function startLabControllers(dir: string, t: LabTopology, pg: LabPostgres | undefined): Promise<RunningController[]> {
  const main = join(packageRoot(), 'dist', 'controller/main.js');
  const started = t.controllers.map((c) => {
    const file = join(dir, `${c.id}.json`);
    writeFileSync(file, JSON.stringify(controllerConfig(dir, t, c, pg), null, 2) + '\n');
    return { id: c.id, address: c.address, pid: startInNamespace(t.mgmtNs, c.id, join(dir, 'logs'), process.execPath, ['--disable-warning=DEP0123', main, '--config', file]) };
  });
  for (const [k, c] of started.entries()) {
    await waitListening(t.mgmtNs, 'tcp', t.controllers[k]!.port, `cordon-controller ${c.id}`, c.pid, 20_000, t.controller4);
  }
  return started;
}

function controllerConfig(dir: string, t: LabTopology, c: LabController, pg: LabPostgres | undefined): object {
  const pki = join(dir, 'pki');
  return {
    listen: c.address,
    tls: { ca: join(pki, 'ca.crt'), cert: join(pki, 'controller.crt'), key: join(pki, 'controller.key'), revokedSerialsFile: join(pki, 'revoked-serials') },
    inventory: { file: join(dir, 'inventory.json') },
    // Replicas: one database; the inventory and reporters are imported by each, as upserts.
    ...(pg ? { store: { url: pg.url }, replica: { id: c.id } } : { store: { path: join(dir, 'cordon.db') } }),
    mail: { smtp: { host: t.controller4, port: t.mailPort }, from: 'abuse@provider.example', replyTo: 'abuse@provider.example', deskName: 'Provider abuse desk' },
    // BMC checks in a lab answer in milliseconds; the production pacing (5 s) would only slow the story.
    // The lab's password files live under <lab>/bmc, so an admin can rebind them with `cordonctl host set-bmc`.
    bmc: { minIntervalSeconds: 1, credentialsDir: join(dir, 'bmc') },
    // The lab's access switch (labSwitch.ts); a sweep a second, so the port goes down within about a second of the window.
    switchFallback: { enabled: true, silentSeconds: LAB_SWITCH_SILENT_SECONDS, sweepSeconds: 1 },
    // Agents count outbound connections in 10 s windows here, so the story's spam run shows within seconds; production counts
    // per minute. 100 new SMTP connections a window, as 600 a minute: the same rate as production's 300 a minute, doubled.
    detection: { windowSeconds: 10, smtp: { newConnections: 100 } },
    clock: { drill: true },
    metrics: { listen: `${t.controller4}:${c.metricsPort}` },
    // Plain HTTP on loopback, as behind a reverse proxy; the lab bridges it to this machine's loopback (startBridge).
    // Every replica's page links to that one address and signs links with the one secret file (created once: 'wx').
    // The desk on the management network with the controller's certificate (which also names 127.0.0.1, for the bridge).
    web: {
      customer: { listen: `127.0.0.1:${c.pagePort}`, publicUrl: `http://127.0.0.1:${t.pagePort}`, secretFile: join(dir, 'web', 'link-secret') },
      desk: { listen: `${t.controller4}:${c.deskPort}` },
    },
    // Who the lab believes: reports DKIM-signed by mailbox.example (aligned with their From), checked against the lab DNS.
    reporters: [{ id: LAB_REPORTER.id, name: LAB_REPORTER.name, kind: LAB_REPORTER.kind, domains: [LAB_REPORTER.domain] }],
    intake: { dnsServers: [`${LAB_DNS.address}:${LAB_DNS.port}`] },
  };
}
