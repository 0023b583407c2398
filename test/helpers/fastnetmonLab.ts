import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

/** The repository's notify script, as an operator installs it. */
export const NOTIFY_SCRIPT = join(REPO_ROOT, 'deploy/alerts/fastnetmon-notify.sh');
const FLOOD = join(REPO_ROOT, 'test/helpers/bin/udp-flood.mjs');

/**
 * Debian's fastnetmon 1.2.4, offline, in a namespace of its own (`srvNs`,
 * "our" servers 203.0.113.10–.12) sniffing (pcap) the veth to a second
 * namespace (`outNs`, "the internet", 198.51.100.20), with a third veth to
 * this namespace (10.231.78.1 here, .2 there) by which its notify script
 * reaches the controller. Config, log, networks list and notify settings
 * all live in `dir`; /etc/fastnetmon.conf is never read.
 */
export class FastnetmonLab {
  readonly srvNs: string;
  readonly outNs: string;
  readonly hostIf: string;
  readonly hostAddr = '10.231.78.1';
  readonly nsAddr = '10.231.78.2';
  readonly servers = ['203.0.113.10', '203.0.113.11', '203.0.113.12'] as const;
  readonly outside = '198.51.100.20';
  readonly log: string;
  /** Packets per second over which FastNetMon bans a host (threshold_pps). */
  readonly thresholdPps = 500;
  private child: ChildProcess | undefined;
  output = '';

  constructor(readonly dir: string) {
    this.srvNs = `cdt-${process.pid}-fnm`;
    this.outNs = `cdt-${process.pid}-fno`;
    this.hostIf = `cdfn${process.pid % 100000}`;
    this.log = join(dir, 'fastnetmon.log');
  }

  createNetwork(): void {
    const ip = (...a: string[]) => execFileSync('ip', a, { stdio: ['ignore', 'ignore', 'pipe'] });
    ip('netns', 'add', this.srvNs);
    ip('netns', 'add', this.outNs);
    ip('link', 'add', this.hostIf, 'type', 'veth', 'peer', 'name', 'mgmt0', 'netns', this.srvNs);
    ip('addr', 'add', `${this.hostAddr}/30`, 'dev', this.hostIf);
    ip('link', 'set', this.hostIf, 'up');
    ip('-n', this.srvNs, 'addr', 'add', `${this.nsAddr}/30`, 'dev', 'mgmt0');
    ip('-n', this.srvNs, 'link', 'set', 'mgmt0', 'up');
    ip('-n', this.srvNs, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up0', 'netns', this.outNs);
    for (const a of this.servers) ip('-n', this.srvNs, 'addr', 'add', `${a}/32`, 'dev', 'up0');
    ip('-n', this.outNs, 'addr', 'add', `${this.outside}/32`, 'dev', 'up0');
    for (const ns of [this.srvNs, this.outNs]) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', 'up0', 'up');
    }
    ip('-n', this.srvNs, 'route', 'add', `${this.outside}/32`, 'dev', 'up0', 'src', this.servers[0]);
    ip('-n', this.outNs, 'route', 'add', '203.0.113.0/24', 'dev', 'up0');
  }

  /**
   * Writes FastNetMon's config (pcap on up0, 203.0.113.0/24 as ours, bans
   * over `thresholdPps` in either direction, 1 s averaging, no API, no
   * usage report, no Prometheus) and the notify script's settings.
   */
  configure(alertsUrl: string, tokenFile: string): string {
    const d = this.dir;
    writeFileSync(join(d, 'networks_list'), '203.0.113.0/24\n');
    writeFileSync(join(d, 'networks_whitelist'), '');
    writeFileSync(join(d, 'notify.conf'), `CORDON_ALERTS_URL=${alertsUrl}\nCORDON_ALERTS_TOKEN_FILE=${tokenFile}\nCORDON_ALERTS_CACERT=\n`);
    const config = join(d, 'fastnetmon.conf');
    const settings: Record<string, string | number> = {
      logging_level: 'info',
      logging_local_syslog_logging: 'off',
      logging_remote_syslog_logging: 'off',
      disable_usage_report: 'on',
      enable_ban: 'on',
      enable_ban_ipv6: 'off',
      process_incoming_traffic: 'on',
      process_outgoing_traffic: 'on',
      ban_details_records_count: 20,
      ban_time: 1900,
      unban_only_if_attack_finished: 'on',
      networks_list_path: join(d, 'networks_list'),
      white_list_path: join(d, 'networks_whitelist'),
      check_period: 1,
      enable_connection_tracking: 'off',
      ban_for_pps: 'on',
      ban_for_bandwidth: 'off',
      ban_for_flows: 'off',
      threshold_pps: this.thresholdPps,
      mirror_afpacket: 'off',
      mirror_afxdp: 'off',
      mirror_netmap: 'off',
      pcap: 'on',
      netflow: 'off',
      sflow: 'off',
      interfaces: 'up0',
      average_calculation_time: 1,
      speed_calculation_delay: 1,
      notify_script_path: NOTIFY_SCRIPT,
      notify_script_pass_details: 'on',
      collect_attack_pcap_dumps: 'off',
      monitor_local_ip_addresses: 'off',
      redis_enabled: 'off',
      mongodb_enabled: 'off',
      exabgp: 'off',
      gobgp: 'off',
      influxdb: 'off',
      graphite: 'off',
      kafka_traffic_export: 'off',
      pid_path: join(d, 'fastnetmon.pid'),
      cli_stats_file_path: join(d, 'fastnetmon.dat'),
      cli_stats_ipv6_file_path: join(d, 'fastnetmon_ipv6.dat'),
      enable_api: 'off',
      prometheus: 'off',
    };
    writeFileSync(config, Object.entries(settings).map(([k, v]) => `${k} = ${v}\n`).join(''));
    return config;
  }

  /** What FastNetMon has logged so far. */
  logText(): string {
    return existsSync(this.log) ? readFileSync(this.log, 'utf8') : '';
  }

  /** Starts fastnetmon in `srvNs` (foreground, its own log file); resolves once pcap listens. */
  async start(config: string): Promise<void> {
    const child = spawn('ip', ['netns', 'exec', this.srvNs, 'fastnetmon', '--configuration_file', config, '--log_file', this.log, '--disable_pid_logic'], {
      cwd: this.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, CORDON_NOTIFY_CONF: join(this.dir, 'notify.conf') },
    });
    this.child = child;
    const take = (b: Buffer) => (this.output += b.toString('utf8'));
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    const deadline = Date.now() + 20_000;
    while (!this.logText().includes('Start listening on up0')) {
      if (child.exitCode !== null) throw new Error(`fastnetmon exited with ${child.exitCode}:\n${this.output}\n${this.logText().slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`fastnetmon did not start sniffing in 20 s:\n${this.output}\n${this.logText().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** A bounded UDP flood (test/helpers/bin/udp-flood.mjs) from `from` to `to`, run in the namespace holding `from`; resolves with the count sent. */
  flood(from: string, to: string, pps: number, seconds: number): Promise<number> {
    const ns = from === this.outside ? this.outNs : this.srvNs;
    return new Promise((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', ns, process.execPath, FLOOD, from, to, String(pps), String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 10) * 1000);
      child.stdout!.on('data', (b: Buffer) => (out += b.toString('utf8')));
      child.once('exit', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve((JSON.parse(out) as { sent: number }).sent);
        else reject(new Error(`udp-flood from ${from} exited with ${code}`));
      });
    });
  }

  /**
   * Runs the notify script in `srvNs` as FastNetMon does (IP DIRECTION PPS
   * ACTION, details on stdin) with other settings. Asynchronous: the
   * controller answering it runs in this process.
   */
  runNotify(settingsFile: string, args: string[], details: string): Promise<{ status: number | null; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn('ip', ['netns', 'exec', this.srvNs, NOTIFY_SCRIPT, ...args], {
        stdio: ['pipe', 'ignore', 'pipe'],
        env: { ...process.env, CORDON_NOTIFY_CONF: settingsFile },
      });
      let stderr = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.stderr!.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
      child.once('exit', (status) => {
        clearTimeout(timer);
        resolve({ status, stderr });
      });
      child.stdin!.end(details);
    });
  }

  /** Stops fastnetmon (its process group), removes the namespaces and the veth. Safe to call twice. */
  async destroy(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child?.pid && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      const signal = (s: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, s);
        } catch {
          /* gone */
        }
      };
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    spawnSync('ip', ['link', 'del', this.hostIf]);
    spawnSync('ip', ['netns', 'del', this.srvNs]);
    spawnSync('ip', ['netns', 'del', this.outNs]);
  }
}
