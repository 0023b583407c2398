import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Debian's crowdsec 1.4.6, offline, in a network namespace of its own
 * whose only way out is a veth to this namespace: its agent (file
 * acquisition of one sshd-style log), its Local API (no Central API: the
 * config has no online_client) and its `http` notification plugin, pointed
 * at `alertsUrl`. Everything lives in `dir`; /etc/crowdsec is only read
 * (its installed parsers and scenarios are copied as symlinks).
 */
export class CrowdsecLab {
  readonly ns: string;
  readonly hostIf: string;
  readonly hostAddr = '10.231.77.1';
  readonly nsAddr = '10.231.77.2';
  readonly log: string;
  private child: ChildProcess | undefined;
  output = '';

  constructor(readonly dir: string) {
    this.ns = `cdt-${process.pid}-cs`;
    this.hostIf = `cdcs${process.pid % 100000}`;
    this.log = join(dir, 'auth.log');
  }

  /** The namespace and its veth (10.231.77.1 here, .2 there). */
  createNetwork(): void {
    const ip = (...a: string[]) => execFileSync('ip', a, { stdio: ['ignore', 'ignore', 'pipe'] });
    ip('netns', 'add', this.ns);
    ip('link', 'add', this.hostIf, 'type', 'veth', 'peer', 'name', 'cs0', 'netns', this.ns);
    ip('addr', 'add', `${this.hostAddr}/30`, 'dev', this.hostIf);
    ip('link', 'set', this.hostIf, 'up');
    ip('-n', this.ns, 'addr', 'add', `${this.nsAddr}/30`, 'dev', 'cs0');
    ip('-n', this.ns, 'link', 'set', 'cs0', 'up');
    ip('-n', this.ns, 'link', 'set', 'lo', 'up');
  }

  /** Writes the config: LAPI on the namespace's loopback, the profile notifying `cordon`, the http plugin posting to `alertsUrl` with `token`. */
  configure(alertsUrl: string, token: string): string {
    const d = this.dir;
    chmodSync(d, 0o755); // the plugin runs as nobody and must reach its binary
    for (const sub of ['data', 'notifications', 'plugins']) mkdirSync(join(d, sub), { recursive: true });
    // A copy, not a link to the folder: the hub walks config_dir and does not follow a linked folder.
    for (const sub of ['parsers', 'scenarios', 'patterns']) cpSync(`/etc/crowdsec/${sub}`, join(d, sub), { recursive: true, verbatimSymlinks: true });
    // Debian ships the plugins as plain names; crowdsec 1.4 wants {type}-{name}.
    symlinkSync('/usr/lib/crowdsec/plugins/http', join(d, 'plugins/notification-http'));
    const config = join(d, 'config.yaml');
    writeFileSync(config, [
      'common: {daemonize: false, log_media: stdout, log_level: info, working_dir: ' + d + '}',
      `config_paths: {config_dir: ${d}/, data_dir: ${d}/data/, simulation_path: ${d}/simulation.yaml, hub_dir: /var/lib/crowdsec/hub/, index_path: /var/lib/crowdsec/hub/.index.json, notification_dir: ${d}/notifications/, plugin_dir: ${d}/plugins/}`,
      `crowdsec_service: {acquisition_path: ${d}/acquis.yaml, parser_routines: 1}`,
      'plugin_config: {user: nobody, group: nogroup}',
      `db_config: {log_level: warning, type: sqlite, db_path: ${d}/data/crowdsec.db, use_wal: true}`,
      `api: {client: {insecure_skip_verify: false, credentials_path: ${d}/local_api_credentials.yaml}, server: {log_level: warning, listen_uri: "127.0.0.1:8080", profiles_path: ${d}/profiles.yaml, trusted_ips: [127.0.0.1]}}`,
      'prometheus: {enabled: false}',
      '',
    ].join('\n'));
    writeFileSync(join(d, 'profiles.yaml'), 'name: default_ip_remediation\nfilters:\n - Alert.Remediation == true && Alert.GetScope() == "Ip"\ndecisions:\n - type: ban\n   duration: 4h\nnotifications:\n - cordon\non_success: break\n');
    writeFileSync(join(d, 'simulation.yaml'), 'simulation: off\n');
    writeFileSync(join(d, 'acquis.yaml'), `filenames:\n  - ${this.log}\nlabels:\n  type: syslog\n`);
    writeFileSync(this.log, '');
    const http = join(d, 'notifications/http.yaml');
    writeFileSync(http, `type: http\nname: cordon\nlog_level: info\nformat: |\n  {{.|toJson}}\nurl: ${alertsUrl}\nmethod: POST\nheaders:\n  Content-Type: application/json\n  Authorization: Bearer ${token}\n`, { mode: 0o600 });
    execFileSync('cscli', ['-c', config, 'machines', 'add', 'cordon-test', '--auto', '-f', join(d, 'local_api_credentials.yaml'), '--force'], { stdio: 'ignore' });
    return config;
  }

  /** Starts crowdsec in the namespace; resolves once it reads its log. */
  async start(config: string): Promise<void> {
    const child = spawn('ip', ['netns', 'exec', this.ns, 'crowdsec', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child = child;
    const take = (b: Buffer) => (this.output += b.toString('utf8'));
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`crowdsec did not start in 30 s:\n${this.output.slice(-2000)}`)), 30_000);
      const check = () => {
        if (this.output.includes('Starting processing data')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', check);
      child.stderr!.on('data', check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`crowdsec exited with ${code}:\n${this.output.slice(-2000)}`));
      });
    });
  }

  /** Appends sshd "Failed password" lines from `ip`, stamped now (syslog format, as /var/log/auth.log). */
  failedLogins(ip: string, n: number): void {
    const now = new Date();
    const stamp = `${now.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' })} ${String(now.getUTCDate()).padStart(2, ' ')} ${now.toISOString().slice(11, 19)}`;
    for (let i = 1; i <= n; i++) appendFileSync(this.log, `${stamp} web-07 sshd[4242]: Failed password for invalid user admin${i} from ${ip} port ${40000 + i} ssh2\n`);
  }

  /** Stops crowdsec and its plugins (its process group), removes the namespace and the veth. Safe to call twice. */
  async destroy(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child?.pid && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 5_000);
      await exited;
      clearTimeout(timer);
    }
    spawnSync('ip', ['link', 'del', this.hostIf]);
    spawnSync('ip', ['netns', 'del', this.ns]);
  }
}
