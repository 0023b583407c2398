// The idle agent daemon with and without what it watches for the controller:
// outbound abuse detection (the watch table and its flood gate), and that
// with managed security too (the brute-force guard's table, its 5-s tick,
// the journal reader and new-socket monitoring). Each phase starts a real controller
// (dist/controller/main.js, SQLite) in the lab's management namespace and a
// real agent daemon (dist/agent/main.js) in its host namespace, waits for
// the agent to connect and take its policy, lets it settle, then measures
// the agent's CPU (its own, and the commands it runs: reaped children and
// the `nft -i` it keeps) and RSS over --idle-seconds. Phases go off,
// detection, both, off, detection, both… so a change of the shared
// machine's load spreads over all three.
//
//   npm run build && node test/bench/agent-idle.mjs [--idle-seconds 60] [--rounds 2]
//
// Root only. Namespaces cbench-<pid>-*, a temporary folder and the daemons
// are removed on exit, failure and Ctrl-C.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchScope } from './lib/benchScope.mjs';
import { createLab, inNs } from './lib/netns.mjs';
import { sleep, startIn, stopChild, until } from './lib/processes.mjs';
import { fmt } from './lib/stats.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { values: opt } = parseArgs({ options: { 'idle-seconds': { type: 'string', default: '60' }, rounds: { type: 'string', default: '2' }, settle: { type: 'string', default: '15' } } });
const IDLE = Number(opt['idle-seconds']);
const ROUNDS = Number(opt.rounds);
const SETTLE = Number(opt.settle);
if (process.getuid?.() !== 0) {
  console.error('agent-idle bench: needs root (network namespaces, nft)');
  process.exit(1);
}
if (!(IDLE >= 5 && IDLE <= 600) || !(Number.isInteger(ROUNDS) && ROUNDS >= 1 && ROUNDS <= 10) || !(SETTLE >= 0 && SETTLE <= 120)) {
  console.error('agent-idle bench: --idle-seconds 5..600, --rounds 1..10, --settle 0..120');
  process.exit(2);
}

const HOST_ID = 'bench-01';
// The node flags the installed agent runs with (its shebang), and its unit's environment: no NODE_EXTRA_CA_CERTS.
const AGENT_FLAGS = readFileSync(join(ROOT, 'dist/agent/main.js'), 'utf8').split('\n', 1)[0].replace(/^#!\S+\s+-S\s+node\s*/, '').split(' ').filter(Boolean);
const { NODE_EXTRA_CA_CERTS: _unused, ...agentEnv } = process.env;
const scope = benchScope('cordon-agent-idle-');
const { work } = scope;

const statTimes = (pid) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ').map(Number);
const childPids = (pid) => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
/** CPU seconds: the daemon's own, and the commands it ran (reaped children, and the children still running). */
function cpu(pid) {
  const f = statTimes(pid);
  let running = 0;
  for (const c of childPids(pid)) {
    try {
      const t = statTimes(c);
      running += (t[11] + t[12]) / 100;
    } catch {}
  }
  return { own: (f[11] + f[12]) / 100, commands: (f[13] + f[14]) / 100 + running };
}
const rssMiB = (pid) => Number(/^Rss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))[1]) / 1024;
const tables = (lab) => inNs(lab.host, 'nft', 'list', 'tables');

const MODES = { off: 'both off', detection: 'detection only', both: 'detection + managed security' };

async function phase(lab, pki, mode, round) {
  const tag = `${mode}-${round}`;
  writeFileSync(
    join(work, `controller-${tag}.json`),
    JSON.stringify({
      listen: `${lab.addr.mgmt}:7443`,
      tls: { ca: join(pki, 'ca.crt'), cert: join(pki, 'controller.crt'), key: join(pki, 'controller.key'), revokedSerialsFile: join(pki, 'revoked-serials') },
      inventory: { file: join(work, 'inventory.json') },
      store: { path: join(work, `cordon-${tag}.db`) },
      mail: { smtp: { host: '127.0.0.1', port: 2525 }, maxAttempts: 1 },
      detection: { enabled: mode !== 'off' },
      managedSecurity: { hosts: mode === 'both' ? [HOST_ID] : [] },
      log: { level: 'warn' },
    }),
  );
  const controller = startIn(scope, lab.mgmt, process.execPath, ['dist/controller/main.js', '--config', join(work, `controller-${tag}.json`)], { log: join(work, `controller-${tag}.log`), cwd: ROOT });
  const agent = startIn(scope, lab.host, process.execPath, [...AGENT_FLAGS, 'dist/agent/main.js', '--config', join(work, 'agent.json')], { log: join(work, `agent-${tag}.log`), cwd: ROOT, env: agentEnv });
  try {
    await until('the agent to connect', () => agent.output().includes('connected to controller'), 30_000, 100);
    const want = (t) => /cordon_watch/.test(t) === (mode !== 'off') && /cordon_guard/.test(t) === (mode === 'both');
    await until(`the tables of ${MODES[mode]}`, () => want(tables(lab)), 30_000, 200);
    await sleep(SETTLE * 1000);
    const pid = agent.pid;
    const c0 = cpu(pid);
    await sleep(IDLE * 1000);
    const c1 = cpu(pid);
    if (agent.exitCode !== null || controller.exitCode !== null) throw new Error(`a daemon exited during the ${tag} phase; logs in ${work}`);
    return { mode, own: (100 * (c1.own - c0.own)) / IDLE, commands: (100 * (c1.commands - c0.commands)) / IDLE, rss: rssMiB(pid) };
  } finally {
    await stopChild(agent);
    await stopChild(controller);
  }
}

try {
  const lab = (scope.lab = createLab('ai'));
  const started = new Date();
  const loadBefore = loadavg();
  const pki = join(work, 'pki');
  const pkiRun = (...a) => execFileSync(join(ROOT, 'deploy/pki/cordon-pki'), ['--dir', pki, ...a], { stdio: 'ignore' });
  pkiRun('init');
  pkiRun('issue-controller', 'ctl.mgmt', lab.addr.mgmt);
  pkiRun('issue-agent', HOST_ID);
  writeFileSync(
    join(work, 'inventory.json'),
    JSON.stringify({
      hosts: [{ id: HOST_ID, customerId: 'bench', publicPrefixes: [`${lab.addr.hostPub}/32`], managementAddress: lab.addr.hostMgmt }],
      customers: [{ id: 'bench', name: 'Bench Ltd', email: 'ops@bench.example' }],
    }),
  );
  writeFileSync(
    join(work, 'agent.json'),
    JSON.stringify({
      hostId: HOST_ID,
      controller: { address: `${lab.addr.mgmt}:7443`, serverName: 'ctl.mgmt' },
      tls: { ca: join(pki, 'ca.crt'), cert: join(pki, `agent-${HOST_ID}.crt`), key: join(pki, `agent-${HOST_ID}.key`) },
      interfaces: { public: ['pub0'], management: ['mgmt0'] },
      managementNetworks: [lab.addr.mgmtNet],
      stateDir: join(work, 'agent-state'),
      log: { level: 'info' },
    }),
  );
  const results = [];
  process.stdout.write(`agent idle: ${ROUNDS} rounds of ${Object.values(MODES).join(', ')}; ${SETTLE} s to settle, ${IDLE} s measured each `);
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of Object.keys(MODES)) {
      results.push(await phase(lab, pki, mode, r));
      process.stdout.write('.');
    }
  }
  process.stdout.write('\n');
  console.log(`\nthe idle agent with and without detection and managed security, ${started.toISOString()}, ${cpus().length} × ${cpus()[0]?.model.trim()}, kernel ${execFileSync('uname', ['-r']).toString().trim()}`);
  console.log(`load average at start ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, at end ${loadavg().map((x) => x.toFixed(2)).join(' ')}; connected to a controller (its default heartbeat), no enforcement`);
  for (const [mode, name] of Object.entries(MODES)) {
    const rs = results.filter((x) => x.mode === mode);
    console.log(`  ${name.padEnd(30)} CPU ${rs.map((x) => fmt(x.own, 2)).join(' / ')} % own, ${rs.map((x) => fmt(x.commands, 2)).join(' / ')} % in its commands; RSS ${rs.map((x) => fmt(x.rss, 1)).join(' / ')} MiB`);
  }
  console.log(`reproduce: npm run build && node test/bench/agent-idle.mjs --idle-seconds ${IDLE} --rounds ${ROUNDS} --settle ${SETTLE}`);
} catch (err) {
  console.error(`\nagent-idle bench failed: ${err?.stack ?? err}`);
  process.exitCode = 1;
} finally {
  scope.cleanup();
}
process.exit(process.exitCode ?? 0);
