import type convict from 'convict';
import type { ManagedSecurityConfig } from './security/managedSecuritySettings.js';
import { detectionFromConfig, type DetectionConfig } from './monitoring/detectionFromConfig.js';
import { loadConfig, type LoadOptions } from '../proto/runtime/config.js';
import { LOG_LEVELS } from '../proto/runtime/Log.js';
import { DEFAULT_INTAKE_LIMITS, type IntakeLimits } from './intake/limits.js';
import { validateDnsServers } from './intake/trust/createDnsResolver.js';
import { validateReporterList, type RegisteredReporter } from './intake/trust/RegisteredReporter.js';
import { validateDnsblZones, type DnsblZoneConfig } from './monitoring/dnsbl/DnsblZone.js';
import { dnsblTunablesFromConfig, type DnsblConfig } from './monitoring/dnsbl/dnsblTunablesFromConfig.js';
import { validateAlertSources, type AlertSourceConfig } from './alerts/alertsSettings.js';
import { CordonError, asCordonError } from '../proto/runtime/CordonError.js';

/** Every controller setting, its default and its meaning, in one place. */
export const controllerSchema = {
  listen: {
    doc: 'Address the gRPC server (AgentService, DeskService, health) listens on: host:port on the management network. Port 0 picks a free port.',
    format: 'address',
    default: '127.0.0.1:7443',
    env: 'CORDON_LISTEN',
  },
  tls: {
    ca: {
      doc: 'Cordon CA certificate (PEM); agents and operators must present a certificate it signed.',
      format: String,
      default: '/etc/cordon/pki/ca.crt',
      env: 'CORDON_TLS_CA',
    },
    cert: {
      doc: "The controller's certificate (PEM, serverAuth, with the names agents dial).",
      format: String,
      default: '/etc/cordon/pki/controller.crt',
      env: 'CORDON_TLS_CERT',
    },
    key: {
      doc: "The controller's private key (PEM).",
      format: String,
      default: '/etc/cordon/pki/controller.key',
      env: 'CORDON_TLS_KEY',
    },
    revokedSerialsFile: {
      doc: 'File listing revoked certificate serials (hex, one per line; written by `cordon-pki revoke`). Re-read when it changes. Empty: none.',
      format: String,
      default: '/etc/cordon/pki/revoked-serials',
      env: 'CORDON_TLS_REVOKED',
    },
  },
  agents: {
    staleAfterMissedHeartbeats: {
      doc: 'An agent whose heartbeats have been missing for this many of its own intervals is marked stale.',
      format: 'positive-int',
      default: 3,
    },
    pingIntervalSeconds: {
      doc: 'How often the controller pings each agent: the round trip it measures and the redial spread it tells (admission pacing). Each ping costs the controller a write and an answer; liveness does not depend on it (heartbeats and keepalives do).',
      format: 'positive-int',
      default: 300,
    },
    helloTimeoutSeconds: {
      doc: 'A stream that sends no Hello within this time is closed.',
      format: 'positive-int',
      default: 10,
    },
    maxHeartbeatSeconds: {
      doc:
        'The longest heartbeat interval an agent of a host that is not restricted may ask for in its Hello. A longer one is clamped, ' +
        'not refused: the agent stays connected, but its staleness is computed from min(asked, this), so it shows as stale after ' +
        'staleAfterMissedHeartbeats × this of silence however long an interval it claims. Logged when it happens.',
      format: 'positive-int',
      default: 60,
    },
    maxRestrictedHeartbeatSeconds: {
      doc:
        "The same cap while the host's desired state holds an enforcement: a silent agent there is what hands the cut to the switch " +
        '(switchFallback.silentSeconds counts from its last heartbeat once it is stale), so it is held to beat at least this often, ' +
        'whatever its Hello asked. From the moment a restriction is decided, its silence counts at this interval.',
      format: 'positive-int',
      default: 10,
    },
    reconnectRatePerSecond: {
      doc:
        'Admission pacing: the rate of agent (re)connections this controller takes without falling behind (TLS handshakes, Hellos, ' +
        'desired states). Every ping tells each agent to spread its redial, should the stream be lost, over (open sessions ÷ this) ' +
        'seconds, so a restart brings the fleet back at this rate instead of all at once; agents take the larger of this and their own ' +
        'reconnect.spreadMs, up to 5 minutes. 0: nothing is told (agents use their own spread).',
      format: 'nat',
      default: 400,
    },
  },
  inventory: {
    file: {
      doc: 'Optional JSON inventory imported into the store at start ({"hosts": [{"id", "customerId", "publicPrefixes", "managementAddress"}], "customers": [{"id", "name", "email"}]}). Empty: hosts come only from `cordonctl host add`. Agents of hosts not in the store are refused.',
      format: String,
      default: '',
      env: 'CORDON_INVENTORY',
    },
  },
  store: {
    path: {
      doc: 'The SQLite file holding hosts, complaints, incidents, desired states, the outbox and the audit log.',
      format: String,
      default: '/var/lib/cordon/cordon.db',
      env: 'CORDON_STORE',
    },
    url: {
      doc:
        'PostgreSQL instead of SQLite: a connection string, postgres://user[:password]@host[:port]/database (or ?host=/socket/dir). ' +
        'Then store.path is not used, and several controllers may share the database as replicas. Empty: the SQLite file at store.path.',
      format: 'postgres-url',
      default: '',
      sensitive: true,
      env: 'CORDON_STORE_URL',
    },
    maxConnections: {
      doc: 'PostgreSQL only: connections in this controller\'s pool (one per open transaction; the notification listener has one more of its own).',
      format: 'positive-int',
      default: 10,
    },
  },
  replica: {
    id: {
      doc: "PostgreSQL only: this controller's name among the replicas sharing the database (unique among running ones). Empty: host name, process id and a random suffix.",
      format: String,
      default: '',
      env: 'CORDON_REPLICA_ID',
    },
  },
  mail: {
    smtp: {
      host: { doc: 'SMTP relay for customer mail (a host name or an IP address; the daemon always sends mail, so it may not be empty).', format: 'hostname', default: '127.0.0.1', env: 'CORDON_SMTP_HOST' },
      port: { doc: 'SMTP relay port.', format: 'port', default: 25, env: 'CORDON_SMTP_PORT' },
      secure: { doc: 'TLS from the first byte (port 465).', format: Boolean, default: false },
      requireTLS: { doc: 'Refuse to send unless the relay offers STARTTLS.', format: Boolean, default: false },
      user: { doc: 'SMTP AUTH user; empty: no AUTH.', format: String, default: '' },
      password: { doc: 'SMTP AUTH password.', format: String, default: '', sensitive: true, env: 'CORDON_SMTP_PASSWORD' },
    },
    from: { doc: 'From address of customer mail, also the SMTP envelope sender: a bare address (local@domain).', format: 'mail-address', default: 'abuse@localhost' },
    replyTo: { doc: 'Where customers answer: a bare address (local@domain).', format: 'mail-address', default: 'abuse@localhost' },
    deskName: { doc: 'The desk as the mail names it.', format: String, default: 'Abuse desk' },
    maxAttempts: { doc: 'Delivery attempts before a mail is given up (kept, logged).', format: 'positive-int', default: 20 },
  },
  bmc: {
    cipherSuite: { doc: 'IPMI 2.0 (lanplus) cipher suite: 3 works almost everywhere, 17 where supported.', format: 'positive-int', default: 3 },
    timeoutSeconds: { doc: 'ipmitool -N: seconds to wait for a BMC reply.', format: 'positive-int', default: 1 },
    retries: { doc: 'ipmitool -R: retransmissions per command.', format: 'positive-int', default: 1 },
    attempts: { doc: 'Commands tried before a BMC is declared unreachable.', format: 'positive-int', default: 2 },
    concurrency: { doc: 'BMCs checked at once.', format: 'positive-int', default: 4 },
    minIntervalSeconds: { doc: 'At least this long between two checks of the same BMC (faster polling can crash a BMC).', format: 'positive-int', default: 5 },
    freshMinutes: { doc: 'A check older than this does not count before a cut.', format: 'positive-int', default: 15 },
    credentialsDir: {
      doc: 'The directory BMC password files must lie in, after symlinks are resolved: `cordonctl host set-bmc` (admin) refuses a file elsewhere. Keep it root-owned, mode 0750 or tighter.',
      format: String,
      default: '/etc/cordon/bmc',
      env: 'CORDON_BMC_CREDENTIALS_DIR',
    },
  },
  detection: {
    enabled: {
      doc: 'Agents count, on their own hosts, new outbound SMTP connections and scanning fan-out (counting only: no traffic changes), and report what passes a threshold; each report becomes a complaint from own_monitoring.',
      format: Boolean,
      default: true,
    },
    windowSeconds: { doc: 'The counting window: agents read and reset their counts this often.', format: 'positive-int', default: 60 },
    smtp: {
      ports: { doc: 'Outbound destination ports counted as SMTP.', format: 'port-list', default: [25, 465, 587] },
      newConnections: {
        doc: 'New outbound connections to those ports within one window, across all destinations, above which the agent reports (category spam). 0 turns it off. A busy outbound mail server passes it: raise it, or set 0, for hosts that relay mail by design.',
        format: 'nat',
        default: 300,
      },
    },
    fanout: {
      ports: { doc: 'Outbound destination ports whose distinct destinations are counted (scanning and brute force from the host).', format: 'port-list', default: [22, 23, 445, 1433, 3306, 3389, 5900] },
      destinations: { doc: 'Distinct destination addresses on those ports within one window above which the agent reports (category scan). 0 turns it off.', format: 'nat', default: 100 },
    },
    flood: {
      packetsPerSecond: {
        doc: 'Packets per second to one destination, averaged over a window, above which the agent reports (category ddos), when those packets average at most maxAverageBytes. 0 turns it off.',
        format: 'nat',
        default: 20000,
      },
      maxAverageBytes: {
        doc: 'Largest average packet size (bytes, as nft sees it, before GSO splits TCP segments) that counts as a flood: bulk transfers of large packets never do.',
        format: 'positive-int',
        default: 512,
      },
    },
    minIntervalSeconds: { doc: 'At most one complaint per host and kind within this; later windows over the threshold are logged, not filed again.', format: 'positive-int', default: 600 },
    hosts: {
      doc:
        'Per-host overrides, each a part of this section: {"mx-01": {"smtp": {"newConnections": 5000}}} for a host that relays mail by design. ' +
        "Keys: enabled, windowSeconds, smtp.ports, smtp.newConnections, fanout.ports, fanout.destinations, flood.packetsPerSecond, flood.maxAverageBytes, minIntervalSeconds; a host's keys win over its customer's, which win over the fleet's. " +
        'A host id not in the inventory is warned about at start (its override applies once it is added). Read at start: a change needs a restart.',
      format: Object,
      default: {} as Record<string, unknown>,
    },
    customers: {
      doc: 'Per-customer overrides, the same keys, for every host of the customer: {"mailco": {"smtp": {"newConnections": 2000}}}. A host\'s own override wins over them.',
      format: Object,
      default: {} as Record<string, unknown>,
    },
  },
  managedSecurity: {
    hosts: {
      doc: 'Hosts (by id) that took managed security: brute-force protection by their agent. Off for every host not listed here or under customers.',
      format: Array,
      default: [] as string[],
    },
    customers: { doc: 'Customers (by id) that took managed security for all their hosts.', format: Array, default: [] as string[] },
    services: {
      doc:
        'What is guarded: per service a name (lowercase, for the customer page), its TCP ports, the new connections per minute from one source above which ' +
        'the source is banned, and the burst allowed before the rate counts. Defaults: ssh 22 at 10/min burst 10; smtp auth (465, 587) 20/min burst 20; ' +
        'ftp 21 10/min burst 10; http (80, 443) 300/min burst 300 (browsers open several connections per page).',
      format: Array,
      default: [
        { name: 'ssh', ports: [22], newConnectionsPerMinute: 10, burst: 10 },
        { name: 'smtp', ports: [465, 587], newConnectionsPerMinute: 20, burst: 20 },
        { name: 'ftp', ports: [21], newConnectionsPerMinute: 10, burst: 10 },
        { name: 'http', ports: [80, 443], newConnectionsPerMinute: 300, burst: 300 },
      ],
    },
    baseBanSeconds: { doc: "A source's first ban lasts this long; each further ban twice the one before (fail2ban's bantime.increment), up to maxBanSeconds.", format: 'positive-int', default: 600 },
    maxBanSeconds: { doc: 'The longest ban (at most a year).', format: 'positive-int', default: 7 * 86_400 },
    forgetAfterSeconds: { doc: 'A source whose last ban ended longer ago than this starts again at baseBanSeconds.', format: 'positive-int', default: 7 * 86_400 },
    allowed: { doc: "Sources never banned on any host, besides each agent's management networks and controller (IPv4/IPv6 addresses or CIDRs).", format: 'cidr-list', default: [] as string[] },
    maxBans: {
      doc: "Bans a host holds at once per address family (the kernel set's size): a flood of spoofed sources fills it and no further source is banned until bans run out; existing bans stay.",
      format: 'positive-int',
      default: 10_000,
    },
    maxEventsPerMinute: { doc: "Ban events recorded per host per minute at most (audit log entries); more are logged as dropped.", format: 'positive-int', default: 120 },
    resyncSeconds: { doc: "How often each agent stream re-reads its host's bans and lifts (a lift made on another replica reaches the agent within this).", format: 'positive-int', default: 15 },
    authFailures: {
      doc: "Failed logins from one source in the host's journal (sshd, Postfix/Exim/Dovecot SASL, vsftpd/ProFTPD, Apache/nginx basic auth) within authWindowSeconds that ban it, like fail2ban's maxretry. 0: the journal is not read (the connection meters still ban).",
      format: 'nat',
      default: 5,
    },
    authWindowSeconds: { doc: "The window of authFailures, like fail2ban's findtime.", format: 'positive-int', default: 600 },
    listenerCheckSeconds: {
      doc: 'New-socket monitoring: how often agents list the TCP and UDP sockets listening on public interfaces (ss -tulnp); a socket not in the host\'s baseline is reported to the customer. 0 turns it off; else 5-3600.',
      format: 'nat',
      default: 60,
    },
  },
  monitoring: {
    dnsbl: {
      enabled: {
        doc: "Check every public address of the inventory's hosts on DNS blocklists (monitoring.dnsbl.zones) and file each new listing as a complaint from own_monitoring; a delisting is noted on its incident. Off by default: it queries a third party about every address.",
        format: Boolean,
        default: false,
      },
      zones: {
        doc: 'The blocklists asked, each {"zone": "zen.spamhaus.org", "codes": {"127.0.0.2": {"list": "SBL", "category": "spam"}}}. "codes" maps each return code to its list and complaint category ("ignore": never a complaint); without it zen.spamhaus.org and a DQS key\'s KEY.zen.dq.spamhaus.net get Spamhaus ZEN\'s table (PBL ignored), any other zone none (its listings are filed as "other"). Spamhaus\'s public mirrors refuse public resolvers and are free for small non-commercial use only: a provider wants a DQS key.',
        format: function dnsblZoneList(value: unknown) {
          // convict names the key; the message names the entry within it ("[0].codes["127.0.0.2"].category: ...").
          validateDnsblZones(value, '');
        },
        default: [{ zone: 'zen.spamhaus.org' }] as DnsblZoneConfig[],
      },
      intervalSeconds: { doc: 'Between the starts of two checks of every address (at most about 24.8 days).', format: 'positive-int', default: 86400 },
      spreadSeconds: { doc: 'A check spreads its lookups over this window, so a DNSBL sees a trickle, not a burst; at most intervalSeconds.', format: 'nat', default: 3600 },
      dnsServers: {
        doc: 'DNS servers asked: ["127.0.0.1:53", "[::1]:5353"]. Empty: the system resolver. A recursive resolver of our own: DNSBLs answer public ones (8.8.8.8, 1.1.1.1) with an error code, which is a failed check, never a listing.',
        format: function dnsblServerList(value: unknown) {
          validateDnsServers(value, 'monitoring.dnsbl.dnsServers');
        },
        default: [] as string[],
      },
      timeoutMs: { doc: 'One lookup (its A and TXT queries) at most; a lookup that takes longer fails and changes nothing.', format: 'positive-int', default: 5000 },
      concurrency: { doc: 'Lookups in flight at most (1 to 256).', format: 'positive-int', default: 4 },
      cacheSeconds: { doc: 'An answer is reused this long without a query (checkOnce soon after a check); at most intervalSeconds - spreadSeconds, so every scheduled check asks again.', format: 'nat', default: 3600 },
    },
  },
  alerts: {
    listen: {
      doc:
        'host:port where CrowdSec (its http notification plugin) and FastNetMon (deploy/alerts/fastnetmon-notify.sh) post their alerts: POST /alerts/crowdsec, POST /alerts/fastnetmon, ' +
        'each with its source\'s bearer token (alerts.sources). Each alert about one of our addresses becomes a complaint from own_monitoring. Empty: no listener. ' +
        'It belongs on the management network, like `listen`.',
      format: 'optional-address',
      default: '',
      env: 'CORDON_ALERTS_LISTEN',
    },
    tls: {
      doc: "HTTPS with the controller's own certificate (tls.cert, tls.key; senders check it against tls.ca). false: plain HTTP, for a management network or loopback behind a TLS proxy only (the tokens cross it in clear text).",
      format: Boolean,
      default: true,
    },
    sources: {
      doc:
        'Who may post, each [{"id": "edge-crowdsec", "kind": "crowdsec" | "fastnetmon", "tokenFile": "/etc/cordon/alerts/edge-crowdsec.token"}]: a source posts only to its kind\'s route, ' +
        'with the token its file holds (one line, 16+ characters: openssl rand -hex 32; not world-readable). Its complaints are recorded as reporter KIND:ID. Files are read at start.',
      format: function alertSourceList(value: unknown) {
        validateAlertSources(value, '');
      },
      default: [] as AlertSourceConfig[],
    },
  },
  switchFallback: {
    enabled: { doc: 'Shut a host\'s switch port (inventory "switchPorts") when it should be cut and its agent is silent or tampered with.', format: Boolean, default: true },
    silentSeconds: { doc: 'Agent silence, while its host should be cut, after which the switch port is shut.', format: 'positive-int', default: 90 },
    tamperThreshold: { doc: 'Tamper reports within the window that also hand the cut to the switch.', format: 'positive-int', default: 3 },
    tamperWindowSeconds: { doc: 'The tamper window.', format: 'positive-int', default: 600 },
    sweepSeconds: { doc: 'How often the fallback compares what should be with what is.', format: 'positive-int', default: 5 },
  },
  enforcement: {
    smtpRelays: {
      doc: "The provider's own smarthosts, which an SMTP block still lets the host reach.",
      format: 'cidr-list',
      default: [] as string[],
    },
  },
  policy: {
    trustedReporterKinds: {
      doc: 'Reporter kinds whose complaints may lead to automatic enforcement.',
      format: 'name-list',
      default: ['own_monitoring', 'upstream', 'cert'],
    },
    maxAutomaticPerHour: {
      doc: 'Fleet-wide cap of automatic enforcements per rolling hour; beyond it incidents wait for an operator.',
      format: 'positive-int',
      default: 20,
    },
    ladderStepHours: {
      doc: 'Hours an enforced, unanswered incident waits before the next action of its ladder.',
      format: 'positive-int',
      default: 24,
    },
    maxPlanDays: {
      doc: "The latest due date a customer's plan may name, in days from when it is given (the page refuses a later one, naming this limit).",
      format: 'positive-int',
      default: 30,
    },
    recidivism: {
      incidents: { doc: 'Incidents of one customer within the window that flag a termination review.', format: 'positive-int', default: 3 },
      windowDays: { doc: 'The recidivism window.', format: 'positive-int', default: 90 },
      migrationDays: { doc: 'The migration period the termination notice states.', format: 'positive-int', default: 30 },
    },
    fourEyes: {
      maxHostsPerAction: {
        doc: 'Hosts one operator action may touch alone; beyond this (or a whole customer) a second operator must approve.',
        format: 'positive-int',
        default: 1,
      },
      operatorHostsPerHour: {
        doc: 'Hosts one operator may act on alone per rolling hour, however the actions were asked; beyond it each needs a second operator.',
        format: 'positive-int',
        default: 5,
      },
      approvalTtlHours: { doc: 'Hours a pending approval stays grantable; after that it expires and must be asked again.', format: 'positive-int', default: 24 },
    },
    categories: {
      doc: 'Per-category overrides: {"spam": {"ackHours": 12, "resolveHours": 48, "immediate": false, "ladder": [{"kind": "smtp_block"}, {"kind": "isolate"}]}}.',
      format: Object,
      default: {} as Record<string, unknown>,
    },
  },
  reporters: {
    doc:
      'Registered reporters this file owns (who Cordon believes): [{"id": "cert-example", "name": "Example CERT", "kind": "cert", "domains": ["cert.example"], ' +
      '"arcForwarder": false, "feed": "NAME"}]. kind: own_monitoring, upstream, cert, rights_holder, individual; each needs a domain or a feed; no domain or feed twice. ' +
      'Seeded into the store at start (source "config"); one deleted here is removed at the next start; `cordonctl reporter add` entries are kept.',
    format: function reporterList(value: unknown) {
      validateReporterList(value, 'reporters');
    },
    default: [] as RegisteredReporter[],
  },
  intake: {
    dnsServers: {
      doc: 'DNS servers mail authentication asks (DKIM keys, DMARC and SPF records): ["127.0.0.1:5353", "[::1]:53", "192.0.2.53"]. Empty: the system resolver.',
      format: function dnsServerList(value: unknown) {
        validateDnsServers(value, 'intake.dnsServers');
      },
      default: [] as string[],
    },
    limits: {
      maxReportBytes: {
        doc: 'The largest report accepted (bytes, as submitted). A larger one is refused, naming this limit, and not stored; the gRPC receive limit of the desk is this plus 1 MiB.',
        format: 'positive-int',
        default: DEFAULT_INTAKE_LIMITS.maxReportBytes,
      },
      decompressedBytes: { doc: 'All archive (zip) members of one report together, once decompressed.', format: 'positive-int', default: DEFAULT_INTAKE_LIMITS.decompressedBytes },
      zipMembers: { doc: 'Entries in one zip archive.', format: 'positive-int', default: DEFAULT_INTAKE_LIMITS.zipMembers },
      zipMemberBytes: { doc: 'One zip member, decompressed: checked against the declared size and counted as it inflates.', format: 'positive-int', default: DEFAULT_INTAKE_LIMITS.zipMemberBytes },
      rows: { doc: 'CSV records in one file.', format: 'positive-int', default: DEFAULT_INTAKE_LIMITS.rows },
      lineLength: { doc: 'One line of a text part, or one CSV record (characters).', format: 'positive-int', default: DEFAULT_INTAKE_LIMITS.lineLength },
      jsonDepth: { doc: 'Nesting of arrays and objects in one JSON feed document or JSON Lines record.', format: 'positive-int', default: DEFAULT_INTAKE_LIMITS.jsonDepth },
      mimeDepth: { doc: 'MIME nesting depth (the message is 1, its parts 2, a message/rfc822 inside one 3).', format: 'positive-int', default: DEFAULT_INTAKE_LIMITS.mimeDepth },
      mimeParts: { doc: 'MIME parts in one message, embedded messages included.', format: 'positive-int', default: DEFAULT_INTAKE_LIMITS.mimeParts },
      parseSeconds: { doc: 'Time one report may take to parse; its worker is then stopped and replaced.', format: 'positive-int', default: DEFAULT_INTAKE_LIMITS.parseSeconds },
      workerHeapMb: { doc: "The parse worker's V8 heap (MiB); a report that needs more stops the worker, not the controller.", format: 'positive-int', default: DEFAULT_INTAKE_LIMITS.workerHeapMb },
    },
    parseWorkers: {
      doc: 'Parse worker threads at most (1 to 4), started when needed and reused; each may use intake.limits.workerHeapMb.',
      format: function parseWorkerCount(value: unknown) {
        if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 4) throw new Error('must be an integer from 1 to 4');
      },
      default: 1,
    },
  },
  web: {
    desk: {
      listen: {
        doc:
          'host:port of the abuse desk in the browser (mutual TLS: operators open it with their Cordon client certificate; roles as for DeskService). ' +
          'Empty: no desk page. It belongs on the management network, like `listen`, never on a public address.',
        format: 'optional-address',
        default: '',
        env: 'CORDON_WEB_DESK_LISTEN',
      },
      tls: {
        cert: { doc: "The desk listener's certificate (PEM); empty: the controller's own tls.cert. Client certificates are always checked against tls.ca.", format: String, default: '' },
        key: { doc: "That certificate's private key (PEM); empty: the controller's own tls.key.", format: String, default: '' },
      },
      maxEventClients: { doc: 'Open live-update streams (one per open desk tab) at most; more get no live updates but the pages still work.', format: 'positive-int', default: 100 },
    },
    customer: {
      listen: {
        doc:
          'host:port of the customer page (self-service answers to incidents). Empty: no page, and notices carry no link. Plain HTTP is ' +
          'allowed only on a loopback address, behind a reverse proxy that terminates TLS (see deploy/nginx/); anywhere else set tls.cert and tls.key.',
        format: 'optional-address',
        default: '',
        env: 'CORDON_WEB_CUSTOMER_LISTEN',
      },
      publicUrl: {
        doc: 'The address customers open, as the notice links it: https://abuse.example.net (with a path prefix if the proxy adds one). Required with listen.',
        format: String,
        default: '',
        env: 'CORDON_WEB_CUSTOMER_URL',
      },
      tls: {
        cert: { doc: "The page's own certificate (PEM) for a public CA's name; empty: plain HTTP on loopback only.", format: String, default: '' },
        key: { doc: "The page certificate's private key (PEM).", format: String, default: '' },
      },
      secretFile: {
        doc: 'The key that makes customer link tokens (32+ random bytes, mode 0600; created at start when missing). Whoever reads it can open every page; it is not in the store.',
        format: String,
        default: '/etc/cordon/web/link-secret',
        env: 'CORDON_WEB_SECRET_FILE',
      },
      linkTtlDays: { doc: 'Days after an incident closes during which its link still opens the page (read only).', format: 'positive-int', default: 30 },
      trustProxy: {
        doc: 'Addresses of reverse proxies whose X-Forwarded-For names the customer (for the record and the rate limit): ["127.0.0.1"]. Empty: the socket peer.',
        format: Array,
        default: [] as string[],
      },
      badTokensPerMinute: { doc: 'Requests with a wrong or expired token one source address may make per minute before it gets 429.', format: 'positive-int', default: 10 },
      maxFiles: { doc: 'Evidence files one answer may carry.', format: 'positive-int', default: 5 },
      maxFileBytes: { doc: 'The largest evidence file (bytes).', format: 'positive-int', default: 10 * 1024 * 1024 },
    },
  },
  outcome: {
    mailReporters: { doc: 'When an incident ends, mail its outcome to reporters registered by mail domain (who gave a reply address), unless their registry entry says otherwise.', format: Boolean, default: true },
    feedReporters: { doc: 'The same for reporters registered as feeds.', format: Boolean, default: false },
  },
  statement: {
    contractClause: {
      doc: 'The contract clause a restriction relies on, as the statement of reasons quotes it (EU DSA Art. 17).',
      format: String,
      default: 'the acceptable use policy of your service contract, which forbids using the service for network abuse and lets us restrict a service that threatens our network',
    },
    redress: {
      doc: 'Other ways to seek redress that the statement of reasons names, besides the page (an out-of-court body, the courts).',
      format: String,
      default: 'You may also seek redress before the competent courts.',
    },
  },
  metrics: {
    listen: {
      doc: 'host:port for Prometheus metrics (GET /metrics); empty disables them.',
      format: 'optional-address',
      default: '127.0.0.1:9477',
      env: 'CORDON_METRICS_LISTEN',
    },
  },
  clock: {
    drill: {
      doc: 'Drill mode, for labs and exercises only: an admin may move the incident clock forward (`cordonctl clock advance`) so deadlines pass in seconds. Every move is audited. Never enable it in production.',
      format: Boolean,
      default: false,
    },
  },
  log: {
    pretty: {
      doc: 'Human-readable coloured log lines instead of JSON, for a terminal (also --log-pretty). journald wants JSON.',
      format: Boolean,
      default: false,
    },
    level: {
      doc: 'Log level.',
      format: [...LOG_LEVELS],
      default: 'info',
      env: 'CORDON_LOG_LEVEL',
    },
  },
};

export type ControllerConfig = convict.Config<{
  listen: string;
  tls: { ca: string; cert: string; key: string; revokedSerialsFile: string };
  agents: { staleAfterMissedHeartbeats: number; pingIntervalSeconds: number; helloTimeoutSeconds: number; maxHeartbeatSeconds: number; maxRestrictedHeartbeatSeconds: number; reconnectRatePerSecond: number };
  inventory: { file: string };
  store: { path: string; url: string; maxConnections: number };
  replica: { id: string };
  clock: { drill: boolean };
  mail: {
    smtp: { host: string; port: number; secure: boolean; requireTLS: boolean; user: string; password: string };
    from: string;
    replyTo: string;
    deskName: string;
    maxAttempts: number;
  };
  bmc: { cipherSuite: number; timeoutSeconds: number; retries: number; attempts: number; concurrency: number; minIntervalSeconds: number; freshMinutes: number; credentialsDir: string };
  detection: Required<DetectionConfig>;
  managedSecurity: ManagedSecurityConfig;
  monitoring: { dnsbl: DnsblConfig & { enabled: boolean } };
  alerts: { listen: string; tls: boolean; sources: AlertSourceConfig[] };
  switchFallback: { enabled: boolean; silentSeconds: number; tamperThreshold: number; tamperWindowSeconds: number; sweepSeconds: number };
  enforcement: { smtpRelays: string[] };
  policy: {
    trustedReporterKinds: string[];
    maxAutomaticPerHour: number;
    ladderStepHours: number;
    maxPlanDays: number;
    recidivism: { incidents: number; windowDays: number; migrationDays: number };
    fourEyes: { maxHostsPerAction: number; operatorHostsPerHour: number; approvalTtlHours: number };
    categories: Record<string, unknown>;
  };
  reporters: RegisteredReporter[];
  intake: { dnsServers: string[]; limits: IntakeLimits; parseWorkers: number };
  web: {
    desk: { listen: string; tls: { cert: string; key: string }; maxEventClients: number };
    customer: {
      listen: string;
      publicUrl: string;
      tls: { cert: string; key: string };
      secretFile: string;
      linkTtlDays: number;
      trustProxy: string[];
      badTokensPerMinute: number;
      maxFiles: number;
      maxFileBytes: number;
    };
  };
  outcome: { mailReporters: boolean; feedReporters: boolean };
  statement: { contractClause: string; redress: string };
  metrics: { listen: string };
  log: { level: string; pretty: boolean };
}>;

/**
 * Loads and validates the controller's config (loadConfig), then the checks
 * that span several keys, each naming the key to change: CordonError
 * `invalid`, as loadConfig's own.
 */
export function loadControllerConfig(opts: LoadOptions): ControllerConfig {
  const config = loadConfig(controllerSchema as never, opts) as ControllerConfig;
  checkAcrossKeys(config);
  return config;
}

function checkAcrossKeys(config: ControllerConfig): void {
  const dnsbl = config.get('monitoring.dnsbl');
  try {
    // Checked when off too, so turning it on later cannot fail at start.
    dnsblTunablesFromConfig(dnsbl);
    if (dnsbl.enabled && dnsbl.zones.length === 0) throw new CordonError('invalid', 'is empty: name at least one zone, or set monitoring.dnsbl.enabled to false', { field: 'monitoring.dnsbl.zones' });
    // The overrides are checked key by key here, so --check-config refuses a typo in one.
    detectionFromConfig(config.get('detection'));
  } catch (err) {
    const e = asCordonError(err);
    // The message starts with the key (CordonError puts its field first).
    throw new CordonError('invalid', `invalid configuration:\n  ${e.message}`, { cause: err });
  }
}
