#!/usr/bin/env -S node --disable-warning=DEP0123
// cordon-controller: the abuse desk's daemon on the management network.
import { existsSync, readFileSync } from 'node:fs';
import { asCordonError } from '../proto/runtime/CordonError.js';
import { describeSchema, printableConfig } from '../proto/runtime/config.js';
import { onShutdownSignals, parseDaemonArgs } from '../proto/runtime/daemonArgs.js';
import { createRootLogger } from '../proto/runtime/logger.js';
import { checkKeyPair } from '../proto/runtime/checkKeyPair.js';
import { loadTlsMaterial } from '../proto/runtime/tls.js';
import { cordonVersion } from '../proto/runtime/version.js';
import { controllerSchema, loadControllerConfig } from './config.js';
import { policyFromConfig } from './incidents/policyFromConfig.js';
import { detectionFromConfig } from './monitoring/detectionFromConfig.js';
import { managedSecurityFromConfig } from './security/managedSecuritySettings.js';
import { dnsblTunablesFromConfig } from './monitoring/dnsbl/dnsblTunablesFromConfig.js';
import { MailSender } from './mail/MailSender.js';
import { runController } from './runController.js';
import { DrillClock, drillOffsetFromAudit } from './clock.js';
import { IpmitoolDriver } from './bmc/IpmitoolDriver.js';
import { SshSwitchDriver } from './switch/SshSwitchDriver.js';
import { validateSwitchInventory, type SwitchInventoryEntry } from './switch/validateSwitchInventory.js';
import { ExecRunner } from '../proto/runtime/CommandRunner.js';
import { Store } from './store/Store.js';
import { retryTransient } from './store/retryTransient.js';
import { seedConfiguredReporters } from './store/seedConfiguredReporters.js';
import { loadInventoryFile } from './inventory/Inventory.js';
import { checkStorePath } from './checkStorePath.js';
import { loadLinkSecret } from './customer/linkSecret.js';
import { customerWebSettings } from './web/customer/customerWebSettings.js';
import { deskWebSettings } from './web/desk/deskWebSettings.js';
import { alertsSettings } from './alerts/alertsSettings.js';

const USAGE = `usage: cordon-controller [--config FILE] [--check-config | --print-config]

  --config FILE    JSON config (default: $CORDON_CONTROLLER_CONFIG, else /etc/cordon/controller.json if present)
  --check-config   validate the config and the files it names, exit 0 if usable, 1 if not
  --print-config   print the effective config (secrets redacted) and exit
  --print-config-schema   print every key with its doc, default, format and environment variable
  --log-pretty     human-readable log lines for a terminal (default: JSON lines, for journald)
`;

/** What an inventory file may hold beyond hosts' addresses: customers' contacts and BMCs. */
interface InventoryExtras {
  customers?: { id: string; name?: string; email?: string }[];
  hosts?: { id: string; bmc?: { address: string; port?: number; user: string; passwordFile: string; sol?: boolean; cipherSuite?: number } }[];
}

async function main(argv: string[]): Promise<number> {
  const args = parseDaemonArgs(argv, { envVar: 'CORDON_CONTROLLER_CONFIG', env: process.env, extra: { 'print-config-schema': { type: 'boolean' } } });
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.extra['print-config-schema']) {
    process.stdout.write(JSON.stringify(describeSchema(controllerSchema), null, 2) + '\n');
    return 0;
  }
  if (args.version) {
    process.stdout.write(`cordon-controller ${cordonVersion()}\n`);
    return 0;
  }
  const defaultFile = '/etc/cordon/controller.json';
  const file = args.configFile ?? (existsSync(defaultFile) ? defaultFile : undefined);
  const config = loadControllerConfig({ file, env: process.env });
  if (args.printConfig) {
    process.stdout.write(printableConfig(config) + '\n');
    return 0;
  }
  // Everything the daemon needs from disk is read now, so a bad path fails
  // here (and in --check-config) rather than at the first agent.
  const tls = loadTlsMaterial(config.get('tls'));
  checkKeyPair(tls, config.get('tls'));
  // --check-config may run before systemd's StateDirectory= exists; a start may not.
  const storeUrl = config.get('store.url');
  // On PostgreSQL there is no file to check: reaching the server is the start's first step below.
  if (!storeUrl) await checkStorePath(config.get('store.path'), { missingDirectory: args.checkConfig ? 'allow' : 'refuse' });
  const policy = policyFromConfig({ ...config.get('policy'), bmcFreshMinutes: config.get('bmc.freshMinutes') });
  const bmcConfig = config.get('bmc');
  const bmcDriver = new IpmitoolDriver(
    {
      cipherSuite: bmcConfig.cipherSuite,
      timeoutSeconds: bmcConfig.timeoutSeconds,
      retries: bmcConfig.retries,
      attempts: bmcConfig.attempts,
      concurrency: bmcConfig.concurrency,
      minIntervalMs: bmcConfig.minIntervalSeconds * 1000,
    },
    { runner: new ExecRunner() },
  );
  const inventoryFile = config.get('inventory.file');
  let switchPorts: SwitchInventoryEntry[] = [];
  if (inventoryFile) {
    loadInventoryFile(inventoryFile); // validates; imported below
    const raw = JSON.parse(readFileSync(inventoryFile, 'utf8')) as { switchPorts?: unknown };
    if (raw.switchPorts !== undefined) switchPorts = validateSwitchInventory(raw.switchPorts);
  }
  // The customer page: plain HTTP only on loopback, publicUrl required, its certificate readable and matching.
  const customerWeb = customerWebSettings(config.get('web.customer'));
  // The desk in the browser: its certificate (the controller's own unless set) read and matched now.
  const deskWeb = deskWebSettings(config.get('web.desk'), config.get('tls'));
  // The alerts listener: every source's token file read and checked now.
  const alerts = alertsSettings(config.get('alerts'), tls);
  if (args.checkConfig) {
    process.stdout.write('config OK\n');
    return 0;
  }

  const log = createRootLogger({ name: 'cordon-controller', level: config.get('log.level'), pretty: args.logPretty || config.get('log.pretty') });
  log.info({ version: cordonVersion(), config: file ?? '(defaults and environment)' }, 'starting');
  const store = storeUrl ? await Store.openUrl(storeUrl, { maxConnections: config.get('store.maxConnections') }) : await Store.open(config.get('store.path'));
  log.info({ store: storeUrl ? 'postgresql' : config.get('store.path') }, 'store open');
  if (storeUrl) {
    // Ids are compared and ordered byte by byte, as SQLite does; another collation orders them differently.
    const c = await store.db.get<{ collation: string }>('SELECT datcollate AS collation FROM pg_database WHERE datname = current_database()');
    if (c && c.collation !== 'C' && c.collation !== 'POSIX') log.warn({ collation: c.collation }, 'the database does not use the C collation: create it with --locale=C (see the README)');
  }
  // Replicas starting together import the same inventory: one of two concurrent imports may lose a
  // serialization race on PostgreSQL and is then simply run again (each step is idempotent).
  await retryTransient(async () => {
    if (inventoryFile) {
      const count = await store.hosts.importFile(inventoryFile);
      const extra = JSON.parse(readFileSync(inventoryFile, 'utf8')) as InventoryExtras;
      const customers = extra.customers ?? [];
      for (const c of customers) await store.customers.upsert({ id: c.id, name: c.name ?? c.id, email: c.email ?? '' });
      for (const h of extra.hosts ?? []) {
        if (h.bmc) await store.bmcs.set({ hostId: h.id, protocol: 'ipmi', port: 623, sol: false, cipherSuite: undefined, ...h.bmc });
      }
      for (const p of switchPorts) await store.switches.set(p.hostId, p.target);
      log.info({ file: inventoryFile, hosts: count, customers: customers.length, switchPorts: switchPorts.length }, 'inventory imported');
    }
    // The registry entries the config owns; desk-added ones stay (audited as actor "config" when they change).
    const seeded = await seedConfiguredReporters(store, config.get('reporters'), new Date());
    log.info({ configured: config.get('reporters').length, added: seeded.added.length, updated: seeded.updated.length, removed: seeded.removed.length }, 'reporters from config');
  });
  const mail = config.get('mail');
  const drillClock = config.get('clock.drill') ? new DrillClock() : undefined;
  if (drillClock) {
    // Where the drill had moved the clock before this start, so time never runs backwards over stored deadlines.
    drillClock.advance(await drillOffsetFromAudit(store.audit));
    log.warn({ offsetSeconds: drillClock.offsetMs / 1000 }, 'drill mode: admins can move the incident clock forward (clock.drill); never run production like this');
  }
  const customerLinks = customerWeb
    ? { secret: await loadLinkSecret(config.get('web.customer.secretFile')), publicUrl: customerWeb.publicUrl, ttlDays: config.get('web.customer.linkTtlDays') }
    : undefined;
  let starting: ReturnType<typeof runController>;
  onShutdownSignals(async () => {
    const controller = await starting;
    await controller.stop();
    await store.close();
  }, log);
  // Signals are handled from before the first listener: a SIGTERM during
  // start-up waits for it and then stops cleanly instead of killing mid-way.
  starting = runController({
    listen: config.get('listen'),
    tls,
    revokedSerialsFile: config.get('tls.revokedSerialsFile'),
    staleAfterMissedHeartbeats: config.get('agents.staleAfterMissedHeartbeats'),
    maxHeartbeatMs: config.get('agents.maxHeartbeatSeconds') * 1000,
    maxRestrictedHeartbeatMs: config.get('agents.maxRestrictedHeartbeatSeconds') * 1000,
    pingIntervalMs: config.get('agents.pingIntervalSeconds') * 1000,
    reconnectRatePerSecond: config.get('agents.reconnectRatePerSecond'),
    helloTimeoutMs: config.get('agents.helloTimeoutSeconds') * 1000,
    store,
    policy,
    smtpRelays: config.get('enforcement.smtpRelays'),
    bmcDriver,
    bmcCredentialsDir: config.get('bmc.credentialsDir'),
    metricsListen: config.get('metrics.listen'),
    intake: { limits: config.get('intake.limits'), parseWorkers: config.get('intake.parseWorkers') },
    dnsServers: config.get('intake.dnsServers'),
    detection: detectionFromConfig(config.get('detection')),
    managedSecurity: managedSecurityFromConfig(config.get('managedSecurity')),
    dnsbl: config.get('monitoring.dnsbl.enabled') ? dnsblTunablesFromConfig(config.get('monitoring.dnsbl')) : undefined,
    switchFallback: config.get('switchFallback.enabled')
      ? {
          driver: new SshSwitchDriver({ log: log.child({ component: 'switch' }) }),
          settings: { ...config.get('switchFallback'), sweepMs: config.get('switchFallback.sweepSeconds') * 1000 },
        }
      : undefined,
    outcome: config.get('outcome'),
    mail: {
      transport: new MailSender({
        host: mail.smtp.host,
        port: mail.smtp.port,
        secure: mail.smtp.secure,
        requireTLS: mail.smtp.requireTLS,
        user: mail.smtp.user || undefined,
        password: mail.smtp.password || undefined,
        from: mail.from,
        replyTo: mail.replyTo,
      }),
      desk: { from: mail.from, replyTo: mail.replyTo, name: mail.deskName, statement: config.get('statement') },
      maxAttempts: mail.maxAttempts,
    },
    ...(drillClock ? { clock: drillClock } : {}),
    customerLinks,
    customerWeb,
    deskWeb,
    alerts,
    replica: storeUrl ? { url: storeUrl, id: config.get('replica.id') || undefined, listen: config.get('listen') } : undefined,
    log,
  });
  await starting;
  return -1; // keep running
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    const e = asCordonError(err);
    process.stderr.write(`cordon-controller: ${e.kind === 'internal' ? (e.stack ?? e.message) : e.message}\n`);
    process.exit(1);
  },
);
