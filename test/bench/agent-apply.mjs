// Agent apply latency per enforcement kind (median and p90 of N applies) and
// the agent daemon's idle RSS, on a real network namespace. Root only.
//   npm run build && node test/bench/agent-apply.mjs [--applies 100] [--idle-seconds 20]
// Creates namespaces named cdb-<pid>-*, removes them (and the daemon) on exit.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { applies: { type: 'string', default: '100' }, 'idle-seconds': { type: 'string', default: '20' } } });
const N = Number(values.applies);
const IDLE = Number(values['idle-seconds']);
if (process.getuid?.() !== 0) {
  console.error('agent-apply bench: needs root (network namespaces, nft, tc)');
  process.exit(1);
}

const ns = `cdb-${process.pid}-h`;
const peer = `cdb-${process.pid}-p`;
const work = mkdtempSync(join(tmpdir(), 'cordon-bench-'));
const ip = (...a) => execFileSync('ip', a, { stdio: ['ignore', 'ignore', 'inherit'] });
let daemon;

function cleanup() {
  if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
  spawnSync('ip', ['netns', 'del', ns]);
  spawnSync('ip', ['netns', 'del', peer]);
  rmSync(work, { recursive: true, force: true });
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

ip('netns', 'add', ns);
ip('netns', 'add', peer);
ip('-n', ns, 'link', 'add', 'pub0', 'type', 'veth', 'peer', 'name', 'inet0', 'netns', peer);
ip('-n', ns, 'link', 'add', 'mgmt0', 'type', 'veth', 'peer', 'name', 'm0', 'netns', peer);
ip('-n', ns, 'addr', 'add', '203.0.113.10/24', 'dev', 'pub0');
ip('-n', ns, 'addr', 'add', '10.255.0.10/16', 'dev', 'mgmt0');
for (const d of ['lo', 'pub0', 'mgmt0']) ip('-n', ns, 'link', 'set', d, 'up');
for (const d of ['inet0', 'm0']) ip('-n', peer, 'link', 'set', d, 'up');

const settings = {
  hostId: 'bench-01',
  controller: { address: '10.255.0.1:7443', serverName: '' },
  tls: { ca: '', cert: '', key: '' },
  heartbeatSeconds: 10,
  reconnect: { initialMs: 500, maxMs: 30000 },
  interfaces: { public: ['pub0'], management: ['mgmt0'] },
  managementNetworks: ['10.255.0.0/16'],
  backend: 'linux',
  smtpPorts: [25, 465, 587],
  driftCheckSeconds: 5,
  stateDir: join(work, 'state'),
  log: { level: 'warn' },
};
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

// The node flags the installed agent runs with (its shebang); AGENT_NODE_FLAGS replaces them for an experiment.
const AGENT_FLAGS = (process.env.AGENT_NODE_FLAGS ?? readFileSync('dist/agent/main.js', 'utf8').split('\n', 1)[0].replace(/^#!\S+\s+-S\s+node\s*/, '')).split(' ').filter(Boolean);
console.log(`agent node flags: ${AGENT_FLAGS.join(' ') || '(none)'}`);
console.log(`agent apply latency, ${N} applies per kind (each from the empty state), nft ${execFileSync('nft', ['--version']).toString().trim()}`);
// Inside the namespace, as the agent runs on a host (lib/applyLoop.mjs says why).
const measured = JSON.parse(
  execFileSync('ip', ['netns', 'exec', ns, process.execPath, ...AGENT_FLAGS, join(process.cwd(), 'test/bench/lib/applyLoop.mjs'), JSON.stringify(settings), String(N)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }),
);
for (const [kind, times] of Object.entries(measured)) {
  times.sort((a, b) => a - b);
  console.log(`  ${kind.padEnd(10)} median ${pct(times, 50).toFixed(1)} ms  p90 ${pct(times, 90).toFixed(1)} ms  max ${times.at(-1).toFixed(1)} ms`);
}

// Idle daemon: the saved state holds an SMTP block; no controller answers, so
// the daemon also shows its reconnect loop's cost.
writeFileSync(join(work, 'agent.json'), JSON.stringify({ ...settings, tls: undefined, log: { level: 'warn' } }));
const idleState = join(work, 'idle-state.json');
writeFileSync(idleState, JSON.stringify({ generation: '1000', enforcements: [{ id: 'idle', incidentId: 'bench', reason: 'bench', smtpBlock: {} }] }));
execFileSync('ip', ['netns', 'exec', ns, process.execPath, 'dist/agent/main.js', 'apply', '--config', join(work, 'agent.json'), '--state', idleState], { stdio: 'ignore' });
const pki = join(work, 'pki');
execFileSync(join(process.cwd(), 'deploy/pki/cordon-pki'), ['--dir', pki, 'init'], { stdio: 'ignore' });
execFileSync(join(process.cwd(), 'deploy/pki/cordon-pki'), ['--dir', pki, 'issue-agent', 'bench-01'], { stdio: 'ignore' });
const cfg = { ...settings, tls: { ca: join(pki, 'ca.crt'), cert: join(pki, 'agent-bench-01.crt'), key: join(pki, 'agent-bench-01.key') } };
writeFileSync(join(work, 'agent.json'), JSON.stringify(cfg));
daemon = spawn('ip', ['netns', 'exec', ns, process.execPath, ...AGENT_FLAGS, 'dist/agent/main.js', '--config', join(work, 'agent.json')], { stdio: 'ignore' });
// CPU seconds (USER_HZ 100) from /proc/PID/stat: the daemon's own (utime + stime), and what the host
// pays for it besides: the commands it ran and reaped (cutime + cstime) and its long-lived `nft -i`.
const statTimes = (pid) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ').map(Number);
const childPids = () => readFileSync(`/proc/${daemon.pid}/task/${daemon.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
const cpu0 = () => {
  const f = statTimes(daemon.pid);
  let session = 0;
  for (const pid of childPids()) {
    try {
      const c = statTimes(pid);
      session += (c[11] + c[12]) / 100;
    } catch {
      // a command that ended between the two reads: counted in cutime once reaped
    }
  }
  return { own: (f[11] + f[12]) / 100, commands: (f[13] + f[14]) / 100 + session };
};
await new Promise((r) => setTimeout(r, 3000)); // start-up, saved state re-applied
const c0 = cpu0();
await new Promise((r) => setTimeout(r, IDLE * 1000));
const c1 = cpu0();
// RSS counts the node binary's code pages, which are file-backed and shared;
// what the agent costs the host on top is its private memory (USS).
const rollup = readFileSync(`/proc/${daemon.pid}/smaps_rollup`, 'utf8');
const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? NaN);
const mib = (k) => (k / 1024).toFixed(1);
// The daemon keeps one `nft -i` for its enforcement transactions (agent/backends/nftSession.ts): the host pays it too.
const children = childPids();
const childText = children
  .map((pid) => {
    try {
      const name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      const r = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      const k = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(r)?.[1] ?? NaN);
      return `${name} RSS ${mib(k('Rss'))} MiB (private ${mib(k('Private_Clean') + k('Private_Dirty'))} MiB)`;
    } catch {
      return undefined;
    }
  })
  .filter(Boolean);
console.log(
  `agent daemon idle over ${IDLE} s (drift check every 5 s, controller unreachable): RSS ${mib(kb('Rss'))} MiB ` +
    `(shared clean ${mib(kb('Shared_Clean'))} MiB, private ${mib(kb('Private_Clean') + kb('Private_Dirty'))} MiB), CPU ${((100 * (c1.own - c0.own)) / IDLE).toFixed(2)} % (and ${((100 * (c1.commands - c0.commands)) / IDLE).toFixed(2)} % in the commands it ran)` +
    `; its children: ${childText.length > 0 ? childText.join(', ') : 'none'}`,
);
cleanup();
process.exit(0);
