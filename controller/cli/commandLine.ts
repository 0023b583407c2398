/**
 * cordonctl's flags and help text, in a module that imports nothing: `--help`,
 * `--version` and a usage error are answered without loading gRPC, the
 * generated messages or the intake stack.
 */

/** Every flag any command takes; parseArgs refuses the rest. */
export const CLI_OPTIONS = {
  controller: { type: 'string' },
  pki: { type: 'string' },
  operator: { type: 'string' },
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  'server-name': { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  id: { type: 'string' },
  customer: { type: 'string' },
  'customer-name': { type: 'string' },
  'customer-email': { type: 'string' },
  prefix: { type: 'string', multiple: true },
  management: { type: 'string' },
  'bmc-address': { type: 'string' },
  'bmc-user': { type: 'string' },
  'bmc-password-file': { type: 'string' },
  'bmc-sol': { type: 'boolean' },
  ip: { type: 'string' },
  category: { type: 'string' },
  reporter: { type: 'string' },
  'reporter-kind': { type: 'string' },
  'event-time': { type: 'string' },
  evidence: { type: 'string' },
  raw: { type: 'string' },
  state: { type: 'string' },
  host: { type: 'string', multiple: true },
  ack: { type: 'boolean' },
  'agent-gone': { type: 'boolean' },
  fixed: { type: 'boolean' },
  'false-positive': { type: 'boolean' },
  plan: { type: 'string' },
  note: { type: 'string' },
  reason: { type: 'string' },
  incident: { type: 'string' },
  action: { type: 'string' },
  rate: { type: 'string' },
  'dry-run': { type: 'boolean' },
  maildir: { type: 'string' },
  status: { type: 'string' },
  version: { type: 'boolean' },
  // complaints: one status by name
  'needs-info': { type: 'boolean' },
  rejected: { type: 'boolean' },
  duplicates: { type: 'boolean' },
  held: { type: 'boolean' },
  // reporter add; --reporters and --dns-server serve `ingest --dry-run`
  name: { type: 'string' },
  kind: { type: 'string' },
  domain: { type: 'string', multiple: true },
  'arc-forwarder': { type: 'boolean' },
  feed: { type: 'string' },
  reporters: { type: 'string' },
  'dns-server': { type: 'string', multiple: true },
  // customer set-contact, host set-bmc
  email: { type: 'string' },
  address: { type: 'string' },
  port: { type: 'string' },
  user: { type: 'string' },
  'password-file': { type: 'string' },
  sol: { type: 'boolean' },
  'cipher-suite': { type: 'string' },
  // the customer's voice
  message: { type: 'string' },
  output: { type: 'string', short: 'o' },
  force: { type: 'boolean' },
  limit: { type: 'string' },
} as const;

export const USAGE = `usage: cordonctl [connection options] COMMAND [--json]

commands (--json on every read command):
  agents                         agent sessions: state, version, last heartbeat, generation held
  hosts | host list              hosts with their agent's state
  host add --id H --customer C --prefix CIDR [--prefix …] --management IP [--customer-name N --customer-email E]
           [--bmc-address A --bmc-user U --bmc-password-file F [--bmc-sol]]   (the BMC flags: admin only)
  host show H                    the host, its customer, agent, BMC and last check, switch port, and the
                                 enforcements in force (generation desired vs applied)
  host bmc-check H               check the host's BMC (IPMI) now; exit 1 when it does not answer
  customer show C                the customer's contact and hosts
  customer set-contact C --email E [--name N] --reason R
                                 change the notice address (abuse_operator; audited; the old address is told)
  host set-bmc H --address A [--port P] --user U --password-file F [--sol] [--cipher-suite N]
                                 bind the host's BMC and password file (admin; F inside bmc.credentialsDir)
  health                         the controller's gRPC health status
  ingest [FILE|-]                a raw report (ARF, X-ARF, Shadowserver CSV, ACNS, plain text) to the controller
  ingest --dry-run [--json] [FILE|-]   what Cordon would make of it, without a controller
  ingest --maildir DIR           every message in DIR/new, moved to DIR/cur once committed
  ingest --dry-run --json [--reporters FILE] [--dns-server HOST:PORT …] [FILE|-]
                                 with "authentication": the mail's DKIM/ARC/DMARC checks, decided against FILE's reporters (a JSON list)
  reporter add --id ID --name N --kind K --domain D [--domain …] [--arc-forwarder] [--feed NAME]
                                 register a reporter Cordon believes (admin; K: own_monitoring, upstream, cert, rights_holder, individual)
  reporter list                  the reporter registry (viewer)
  reporter remove ID             unregister a desk-added reporter (admin; config ones are removed in the config)
  complaint submit --ip IP --category C --reporter-kind K [--reporter R] [--event-time T] [--evidence E] [--raw FILE|-]
  incident list [--state S] [--host H] [--customer C]
  incident show ID               the incident, its complaints with their evidence, its history, the customer's
                                 messages, files and page links
  incident show ID --raw COMPLAINT   one complaint's raw report as text, control characters shown as ?
                                 (abuse_operator)
  incident answer ID --ack | --fixed | --false-positive | --plan DATE  [--note TEXT]
                                 record the customer's answer; --note (what the customer said) is required
                                 for --fixed, --false-positive and --plan
  incident verify ID | reject-dispute ID --reason R | dismiss ID --reason R | release ID
                                 release lifts the restriction and waits (releasing) until the agent, or the
                                 switch, confirms the lift; only then is it released and the customer told.
  incident release ID --agent-gone --reason R
                                 finish a release whose agent never confirmed it (the switch port must be open):
                                 released, and the customer is told to clear the server through its console
                                 on an appealed incident (the customer contests a restriction in force):
                                 verify ID --reason R accepts the appeal and lifts the restriction;
                                 reject-dispute ID --reason R keeps it and restarts the ladder's clock;
                                 on a customer_resolved incident, reject-dispute ID --reason R says the fix
                                 does not hold and sets a new deadline. No enforce while an answer waits.
  incident queue [--limit N]     what waits for a person, most urgent first: appeals, release requests, failed or
                                 unreachable enforcement, BMC alerts after a cut, fixes to verify, disputes, held
                                 escalations, unseen customer messages, bounced notices, needs_info and held reports
  incident seen ID [--message M] mark the customer's messages seen (all unseen, or one)
  incident file ID FILE -o PATH [--force]   save a customer's evidence file (mode 0600; never over an existing
                                 PATH unless --force)
  incident resend-link ID [--reason R]   revoke the incident's page links and send the notice again with a new one
  incident revoke-link ID --reason R     revoke the incident's page links, send nothing
  incident override-bmc ID --reason R   let a cut held for an unanswering BMC proceed
  enforce (--incident ID | --host H [--host …] | --customer C) --action smtp_block|throttle|isolate|nic_down [--rate BPS] --reason R
  approvals                      approval requests (four eyes): the action in words, hosts, who asked and who
                                 decided, why a second operator is needed, when it expires
  approve APPROVAL               grant another operator's request (four eyes): the action happens in the same transaction
  approvals reject APPROVAL --reason R   refuse a request (the requester may withdraw their own)
  complaints --needs-info | --rejected | --duplicates | --held  [--limit N]
                                 reports waiting outside incidents, newest first (or --status S: held,
                                 duplicate, needs_info, rejected, linked; default held; N at most 1000)
  complaint admit|dismiss ID --reason R   route a held complaint now, or dismiss it
  reviews [--status S]           termination reviews: open, confirmed, declined
  review confirm|decline ID --reason R    decide a review; only a confirmation sends the migration notice
  audit verify                   recompute the audit log's hash chain
  clock advance DURATION [--reason R]   move the incident clock forward (25h, 1d2h, 90m; admin; drill mode only)

Ages and due times are read against the controller's incident clock; "(drill clock)" marks output
where it runs more than a minute apart from this machine's clock.

connection options (or environment):
  --controller HOST:PORT     controller address ($CORDON_CONTROLLER, default 127.0.0.1:7443)
  --pki DIR --operator NAME  use DIR/ca.crt and DIR/operator-NAME.{crt,key} ($CORDON_PKI_DIR, $CORDON_OPERATOR)
  --ca F --cert F --key F    explicit files ($CORDON_CA, $CORDON_CERT, $CORDON_KEY)
  --server-name NAME         name to verify in the controller's certificate
  --timeout MS               per-call deadline (default 10000)
`;
