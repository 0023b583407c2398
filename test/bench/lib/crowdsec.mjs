// CrowdSec, offline, inside a benchmark's namespace: its Local API
// (`crowdsec -no-cs`: the API alone, no log parsing, no Central API), the
// nftables firewall bouncer at a chosen poll interval, and `cscli decisions`
// as the operator's command. Everything lives in the bench's temporary
// folder: its own config, its own SQLite database, its own credentials; the
// machine's /etc/crowdsec is never read or changed after installation.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

const BINARIES = ['crowdsec', 'cscli', 'crowdsec-firewall-bouncer'];
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/**
 * Makes sure Debian's crowdsec and crowdsec-firewall-bouncer are installed;
 * with `install` (and root and apt-get) installs them, offline: Debian's
 * crowdsec registers with the Central API on installation unless
 * /etc/crowdsec/online_api_credentials.yaml already holds something
 * (README.Debian), so that file is written first, and a policy-rc.d that
 * refuses service starts keeps both daemons from starting on this machine.
 * Throws with the command to run otherwise.
 */
export function ensureCrowdsec({ install, say, bouncer = true }) {
  // The test suite needs the Local API and cscli only (bouncer: false); the benchmark also the bouncer.
  const binaries = bouncer ? BINARIES : BINARIES.filter((b) => b !== 'crowdsec-firewall-bouncer');
  const missing = binaries.filter((b) => !has(b));
  if (missing.length === 0) return;
  const packages = bouncer ? 'crowdsec crowdsec-firewall-bouncer' : 'crowdsec';
  if (!install) throw new Error(`CrowdSec is not installed (${missing.join(', ')} missing): run with --with-crowdsec to install Debian's ${packages} offline, or leave it out`);
  if (process.getuid?.() !== 0 || !has('apt-get')) throw new Error(`installing CrowdSec needs root and apt-get: apt-get install -y ${packages}`);
  mkdirSync('/etc/crowdsec', { recursive: true });
  const capi = '/etc/crowdsec/online_api_credentials.yaml';
  if (!existsSync(capi) || readFileSync(capi, 'utf8').trim() === '') {
    writeFileSync(capi, '# offline: no Central API (written before installation by Cordon\'s tests or benchmark)\n');
  }
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\n# Cordon tests or benchmark: no service starts while CrowdSec installs\nexit 101\n', { mode: 0o755 });
  try {
    say(`installing Debian's ${packages} (offline: no Central API registration, services not started)`);
    execFileSync('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${packages}`], { stdio: 'inherit' });
  } finally {
    if (ownPolicy) spawnSync('rm', ['-f', policy]);
  }
  const still = binaries.filter((b) => !has(b));
  if (still.length > 0) throw new Error(`still missing after installing ${packages}: ${still.join(', ')}`);
}

/** crowdsec's version line, e.g. "v1.4.6-6~deb12u1+b1-linux-debian". */
export function crowdsecVersion() {
  const out = spawnSync('crowdsec', ['-version'], { encoding: 'utf8' });
  return /version:\s*(\S+)/.exec(`${out.stdout}${out.stderr}`)?.[1] ?? 'unknown';
}

/**
 * Writes a config for a Local API on 127.0.0.1:`port` (the loopback of the
 * namespace it will run in), with a
 * machine (for cscli) and a bouncer key. Returns { config, apiKey }.
 */
export function configureCrowdsec(dir, port) {
  mkdirSync(join(dir, 'data'), { recursive: true });
  mkdirSync(join(dir, 'notifications'), { recursive: true });
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `common:
  daemonize: false
  log_media: stdout
  log_level: warning
  working_dir: ${dir}
config_paths:
  config_dir: ${dir}/
  data_dir: ${dir}/data/
  simulation_path: ${dir}/simulation.yaml
  hub_dir: /var/lib/crowdsec/hub/
  index_path: /var/lib/crowdsec/hub/.index.json
  notification_dir: ${dir}/notifications/
  plugin_dir: /usr/lib/crowdsec/plugins/
cscli:
  output: human
  color: "no"
db_config:
  log_level: warning
  type: sqlite
  db_path: ${dir}/data/crowdsec.db
  use_wal: true
api:
  client:
    insecure_skip_verify: false
    credentials_path: ${dir}/local_api_credentials.yaml
  server:
    log_level: warning
    listen_uri: 127.0.0.1:${port}
    profiles_path: ${dir}/profiles.yaml
    trusted_ips:
      - 127.0.0.1
prometheus:
  enabled: false
`,
  );
  writeFileSync(join(dir, 'profiles.yaml'), 'name: default_ip_remediation\nfilters:\n - Alert.Remediation == true && Alert.GetScope() == "Ip"\ndecisions:\n - type: ban\n   duration: 4h\non_success: break\n');
  writeFileSync(join(dir, 'simulation.yaml'), 'simulation: off\n');
  // cscli writes to the database directly for these two; the Local API need not run yet.
  const password = randomBytes(16).toString('hex');
  execFileSync('cscli', ['-c', config, 'machines', 'add', 'cordon-bench', '--password', password, '-f', join(dir, 'local_api_credentials.yaml'), '--force'], { stdio: 'ignore' });
  const apiKey = randomBytes(16).toString('hex');
  execFileSync('cscli', ['-c', config, 'bouncers', 'add', 'cordon-bench-fw', '-k', apiKey], { stdio: 'ignore' });
  return { config, apiKey, port };
}

/** Writes the firewall bouncer's config for one poll interval (Go duration: "10s", "100ms"). */
export function bouncerConfig(dir, { apiKey, port }, updateFrequency) {
  const file = join(dir, `bouncer-${updateFrequency}.yaml`);
  writeFileSync(
    file,
    `mode: nftables
pid_dir: ${dir}/
update_frequency: ${updateFrequency}
daemonize: false
log_mode: stdout
log_level: warning
api_url: http://127.0.0.1:${port}/
api_key: ${apiKey}
insecure_skip_verify: false
disable_ipv6: true
deny_action: DROP
deny_log: false
supported_decisions_types:
  - ban
blacklists_ipv4: crowdsec-blacklists
blacklists_ipv6: crowdsec6-blacklists
ipset_type: nethash
iptables_chains:
  - INPUT
nftables:
  ipv4:
    enabled: true
    set-only: false
    table: crowdsec
    chain: crowdsec-chain
  ipv6:
    enabled: false
    set-only: false
    table: crowdsec6
    chain: crowdsec6-chain
prometheus:
  enabled: false
  listen_addr: 127.0.0.1
  listen_port: 60601
`,
  );
  return file;
}
