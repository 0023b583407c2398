// The operator's path, side by side with CrowdSec: from spawning the
// operator's command to the first TCP connect that fails, with the same
// probe for both, in the same run.
//
//   npm run build && node test/bench/operator-path.mjs [--cycles 30] [--slow-cycles 6]
//        [--with-crowdsec] [--no-crowdsec] [--keep DIR] [--cpu-prof DIR (cordonctl's profiles)]
//
// One lab of namespaces (internet, host, management: lib/netns.mjs). A TCP
// listener on the host's public address; the probe (lib/tcpProbe.mjs) in the
// internet namespace connects to it every 20 ms with a 100 ms timeout.
// Latency of one cycle = start of the first probe attempt that fails − the
// moment the command was spawned (both CLOCK_MONOTONIC); its resolution is
// the probe's 20 ms. Each command is spawned through `ip netns exec`, the
// same for both systems.
//
// Cordon: the controller (SQLite) in the management namespace, the agent on
// the host; the command is `cordonctl enforce --host bench-01 --action
// isolate --reason …` from the management namespace, as an operator runs it.
// Each cycle is a new incident; the customer confirms the fix and the
// operator releases it between cycles (not timed).
//
// CrowdSec (Debian's 1.4.6; `--with-crowdsec` installs it offline when
// missing, see lib/crowdsec.mjs): its Local API and the nftables firewall
// bouncer on the host, the command `cscli decisions add --ip <the probe's
// address>`, run on the host as CrowdSec expects. Polls of 10 s (the
// bouncer's default), 1 s and 100 ms, each with a fresh bouncer; decisions at
// a random phase of the poll; `cscli decisions delete` between cycles.
//
// Root only. Namespaces cbench-<pid>-*, a temporary folder and every process
// are removed on exit, failure or Ctrl-C.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchBmc } from './lib/benchBmc.mjs';
import { bouncerConfig, configureCrowdsec, crowdsecVersion, ensureCrowdsec } from './lib/crowdsec.mjs';
import { deskLines } from './lib/deskLines.mjs';
import { createLab } from './lib/netns.mjs';
import { fmt, summary } from './lib/stats.mjs';
import { benchScope } from './lib/benchScope.mjs';
import { sleep, stopChild, until } from './lib/processes.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const LIB = join(ROOT, 'test/bench/lib');
const CORDONCTL = join(ROOT, 'dist/controller/cli/cordonctl.cjs');
const { values: opt } = parseArgs({
  options: {
    cycles: { type: 'string', default: '30' },
    'slow-cycles': { type: 'string', default: '6' },
    'with-crowdsec': { type: 'boolean', default: false },
    'no-crowdsec': { type: 'boolean', default: false },
    keep: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});
const CYCLES = Number(opt.cycles);
const SLOW_CYCLES = Number(opt['slow-cycles']);
for (const [k, v] of [['cycles', CYCLES], ['slow-cycles', SLOW_CYCLES]]) {
  if (!Number.isInteger(v) || v < 1 || v > 10_000) throw new Error(`--${k}: a whole number from 1 to 10000, please`);
}
if (process.getuid?.() !== 0) {
  console.error('operator-path bench: needs root (network namespaces, nft)');
  process.exit(1);
}

const HOST_ID = 'bench-01';
const PORT = 8080;
const PROBE_MS = 20;
const PROBE_TIMEOUT_MS = 100;
const scope = benchScope('cordon-operator-path-', {
  beforeRemove(work) {
    if (!opt.keep) return;
    mkdirSync(opt.keep, { recursive: true });
    cpSync(work, opt.keep, { recursive: true, filter: (src) => !src.includes('/pki') });
  },
});
const { work, children, logFlushers } = scope;
let lab;

const mono = () => Number(process.hrtime.bigint()) / 1e6;

/** A long-running process in a namespace, its output in work/<name>.log. */
function daemon(ns, name, command, args) {
  const child = spawn('ip', ['netns', 'exec', ns, command, ...args], { stdio: ['pipe', 'pipe', 'pipe'], cwd: ROOT });
  children.add(child);
  const chunks = [];
  child.stdout.on('data', (d) => chunks.push(d));
  child.stderr.on('data', (d) => chunks.push(d));
  const flush = () => writeFileSync(join(work, `${name}.log`), Buffer.concat(chunks));
  logFlushers.push(flush);
  child.on('exit', () => {
    children.delete(child);
    flush();
  });
  child.output = () => Buffer.concat(chunks).toString();
  return child;
}

// The operator's commands run without NODE_EXTRA_CA_CERTS. Where it is set (this project's sandbox sets it
// for its HTTPS proxy), every node process reads and parses that file at start, before any of its own code:
// about 40 ms here (printed below). An operator's shell does not normally set it; one that does pays it in
// every node program. cscli (Go) ignores it.
const COMMAND_ENV = { ...process.env };
delete COMMAND_ENV.NODE_EXTRA_CA_CERTS;

/** Median ms of `node -e 0` over 10 starts with `env`. */
function nodeStartMs(env) {
  const ms = [];
  for (let i = 0; i < 10; i++) {
    const t = mono();
    execFileSync(process.execPath, ['-e', '0'], { env });
    ms.push(mono() - t);
  }
  return ms.sort((a, b) => a - b)[5];
}

/** Runs the operator's command in `ns`; resolves with its spawn time, exit time and stdout. */
function command(ns, cmd, args) {
  return new Promise((res, rej) => {
    const spawnedAt = mono();
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT, env: COMMAND_ENV });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      const exitedAt = mono();
      if (code !== 0) rej(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.trim()}`));
      else res({ spawnedAt, exitedAt, out });
    });
  });
}

// ---- the probes' records ---------------------------------------------------------
/** A probe in `ns` towards host:port; its attempts as [start ms, ok] in the order they finish. */
function startProbe(name, ns, host, port) {
  const attempts = [];
  const probe = daemon(ns, name, process.execPath, [join(LIB, 'tcpProbe.mjs'), host, String(port), String(PROBE_MS), String(PROBE_TIMEOUT_MS), '7200']);
  createInterface({ input: probe.stdout }).on('line', (line) => {
    const [t, ok] = line.split(' ');
    attempts.push([Number(t), ok === '1']);
  });
  return {
    /** Start of the first attempt started after `t0` whose outcome was `ok`. */
    firstAfter: (t0, ok) => attempts.filter(([t, o]) => t >= t0 && o === ok).reduce((m, [t]) => Math.min(m, t), Infinity),
    flowing: () => {
      const last = attempts.at(-1);
      return last !== undefined && last[1] && last[0] > mono() - 4 * PROBE_MS - PROBE_TIMEOUT_MS;
    },
  };
}
let inbound; // the internet → the host's public address, port 8080
let outbound; // the host → the internet, port 25 (SMTP)
const passesAgain = async (probe, t, timeoutMs) => until('the probe to pass again', () => probe.firstAfter(t, true) < Infinity, timeoutMs);

/** One decision: spawn the command, wait for the first failed connect; returns the sample. */
async function measureDrop(probe, run, timeoutMs) {
  const c = await run();
  // Failed attempts that finish after the command exits still count from its spawn.
  const failedAt = await until(`the first failed connect (the command said: ${c.out.trim()})`, () => {
    const t = probe.firstAfter(c.spawnedAt, false);
    return t < Infinity ? t : undefined;
  }, timeoutMs);
  return { dropMs: failedAt - c.spawnedAt, commandMs: c.exitedAt - c.spawnedAt, out: c.out };
}

// ---- Cordon ---------------------------------------------------------------------
async function runCordon() {
  const pki = join(work, 'pki');
  const pkiRun = (...a) => execFileSync(join(ROOT, 'deploy/pki/cordon-pki'), ['--dir', pki, ...a], { stdio: 'ignore' });
  pkiRun('init');
  pkiRun('issue-controller', 'ctl.mgmt', lab.addr.mgmt);
  pkiRun('issue-agent', HOST_ID);
  pkiRun('issue-operator', 'olga', 'abuse_operator');
  pkiRun('issue-operator', 'ada', 'abuse_operator');
  // The host's BMC on the management network: a cut waits for a good BMC check, as in production.
  const bmc = benchBmc(work, { hostId: HOST_ID, mgmtNs: lab.mgmt });
  daemon(lab.mgmt, 'bmc', bmc.command[0], bmc.command.slice(1));
  writeFileSync(
    join(work, 'inventory.json'),
    JSON.stringify({
      hosts: [
        {
          id: HOST_ID,
          customerId: 'bench',
          publicPrefixes: [`${lab.addr.hostPub}/32`],
          managementAddress: lab.addr.hostMgmt,
          bmc: bmc.inventory,
        },
      ],
      customers: [{ id: 'bench', name: 'Bench Ltd', email: 'ops@bench.example' }],
    }),
  );
  writeFileSync(
    join(work, 'controller.json'),
    JSON.stringify({
      listen: `${lab.addr.mgmt}:7443`,
      tls: { ca: join(pki, 'ca.crt'), cert: join(pki, 'controller.crt'), key: join(pki, 'controller.key'), revokedSerialsFile: join(pki, 'revoked-serials') },
      inventory: { file: join(work, 'inventory.json') },
      store: { path: join(work, 'cordon.db') },
      mail: { smtp: { host: '127.0.0.1', port: 2525 }, maxAttempts: 1 },
      bmc: bmc.controllerConfig,
      log: { level: 'warn' },
    }),
  );
  writeFileSync(
    join(work, 'agent.json'),
    JSON.stringify({
      hostId: HOST_ID,
      controller: { address: `${lab.addr.mgmt}:7443`, serverName: 'ctl.mgmt' },
      tls: { ca: join(pki, 'ca.crt'), cert: join(pki, `agent-${HOST_ID}.crt`), key: join(pki, `agent-${HOST_ID}.key`) },
      heartbeatSeconds: 10,
      interfaces: { public: ['pub0'], management: ['mgmt0'] },
      managementNetworks: [lab.addr.mgmtNet],
      stateDir: join(work, 'agent-state'),
      log: { level: 'warn' },
    }),
  );
  const controller = daemon(lab.mgmt, 'controller', process.execPath, ['dist/controller/main.js', '--config', join(work, 'controller.json')]);
  const operator = daemon(lab.mgmt, 'operator', process.execPath, [join(LIB, 'operator.mjs'), `${lab.addr.mgmt}:7443`, 'ctl.mgmt', pki, 'olga']);
  const desk = deskLines(operator);
  await until('the controller to answer', () => desk('health').then((r) => r.status === 'SERVING' || r.status === '1', () => false), 20_000, 200);
  const agent = daemon(lab.host, 'agent', process.execPath, ['dist/agent/main.js', '--config', join(work, 'agent.json')]);
  await until('the agent to say hello', () => desk('agents').then((r) => r.agents.some((a) => a.hostId === HOST_ID && a.state !== 0 && a.state !== 'AGENT_STATE_UNSPECIFIED')), 20_000, 100);
  await until('the probes to flow', () => inbound.flowing() && outbound.flowing(), 5_000);

  const cordonctl = (operatorName, ...args) =>
    // As an operator runs it: the file itself, whose #! line gives node its flags.
    opt['cpu-prof']
      ? command(lab.mgmt, process.execPath, ['--use-openssl-ca', '--cpu-prof', '--cpu-prof-dir', resolve(opt['cpu-prof']), CORDONCTL, ...ctlArgs(operatorName, args)])
      : command(lab.mgmt, CORDONCTL, ctlArgs(operatorName, args));
  const ctlArgs = (operatorName, args) => ['--controller', `${lab.addr.mgmt}:7443`, '--server-name', 'ctl.mgmt', '--pki', pki, '--operator', operatorName, ...args];
  const incidentOf = (out) => {
    const id = /enforcing:? (\S+)/.exec(out)?.[1];
    if (!id) throw new Error(`cordonctl said: ${out.trim()}`);
    return id;
  };
  const release = async (incidentId, probe) => {
    await desk('release', { incidentId });
    await passesAgain(probe, mono(), 10_000);
  };
  const rows = { smtp: [], isolate: [] };
  process.stdout.write(`cordon: ${CYCLES} cycles of each `);
  for (let c = 0; c < CYCLES; c++) {
    // One operator alone: an SMTP block needs no second operator.
    await sleep(20 + Math.random() * 80);
    const smtp = await measureDrop(outbound, () => cordonctl('olga', 'enforce', '--host', HOST_ID, '--action', 'smtp_block', '--reason', 'operator-path bench'), 10_000);
    rows.smtp.push(smtp);
    await release(incidentOf(smtp.out), outbound);
    // A cut without a complaint behind it needs a second operator (four eyes): the request is not
    // timed; the decision that cuts is the second operator's `cordonctl approve`.
    const asked = await cordonctl('olga', 'enforce', '--host', HOST_ID, '--action', 'isolate', '--reason', 'operator-path bench');
    const approvalId = /approval (\S+) requested/.exec(asked.out)?.[1];
    if (!approvalId) throw new Error(`cordonctl enforce --action isolate said: ${asked.out.trim()}`);
    await sleep(20 + Math.random() * 80);
    const cut = await measureDrop(inbound, () => cordonctl('ada', 'approve', approvalId), 10_000);
    rows.isolate.push(cut);
    await release(incidentOf(cut.out), inbound);
    process.stdout.write('.');
  }
  process.stdout.write('\n');
  await Promise.all([stopChild(agent), stopChild(operator), stopChild(controller)]);
  return rows;
}

// ---- CrowdSec -------------------------------------------------------------------
async function runCrowdsec() {
  const dir = join(work, 'crowdsec');
  const cs = configureCrowdsec(dir, 8081);
  const lapi = daemon(lab.host, 'crowdsec-lapi', 'crowdsec', ['-c', cs.config, '-no-cs']);
  await until('the CrowdSec Local API to listen', () => execFileSync('ip', ['netns', 'exec', lab.host, 'ss', '-Hltn'], { encoding: 'utf8' }).includes('127.0.0.1:8081'), 20_000, 100);
  const cscli = (...a) => command(lab.host, 'cscli', ['-c', cs.config, ...a]);
  const results = [];
  for (const [poll, pollMs, cycles] of [['10s', 10_000, SLOW_CYCLES], ['1s', 1_000, CYCLES], ['100ms', 100, CYCLES]]) {
    const bouncer = daemon(lab.host, `crowdsec-bouncer-${poll}`, 'crowdsec-firewall-bouncer', ['-c', bouncerConfig(dir, cs, poll)]);
    await until(`the bouncer (${poll}) to set up its table`, () => {
      try {
        return execFileSync('ip', ['netns', 'exec', lab.host, 'nft', 'list', 'chain', 'ip', 'crowdsec', 'crowdsec-chain'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).includes('drop');
      } catch {
        return false;
      }
    }, 20_000, 100);
    await until('the probe to flow', inbound.flowing, 5_000);
    const samples = [];
    process.stdout.write(`crowdsec, poll ${poll}: ${cycles} cycles `);
    for (let c = 0; c < cycles; c++) {
      await sleep(Math.random() * pollMs);
      samples.push(await measureDrop(inbound, () => cscli('decisions', 'add', '--ip', lab.addr.inet, '--duration', '1h', '--reason', 'operator-path bench'), 3 * pollMs + 5_000));
      await cscli('decisions', 'delete', '--ip', lab.addr.inet);
      await passesAgain(inbound, mono(), 3 * pollMs + 5_000);
      process.stdout.write('.');
    }
    process.stdout.write('\n');
    await stopChild(bouncer);
    execFileSync('ip', ['netns', 'exec', lab.host, 'nft', 'delete', 'table', 'ip', 'crowdsec'], { stdio: 'ignore' });
    results.push({ poll, samples });
  }
  await stopChild(lapi);
  return results;
}

// ---- the run --------------------------------------------------------------------
async function main() {
  const started = new Date();
  let crowdsec = !opt['no-crowdsec'];
  if (crowdsec) {
    try {
      ensureCrowdsec({ install: opt['with-crowdsec'], say: (l) => console.log(l) });
    } catch (err) {
      if (opt['with-crowdsec']) throw err;
      console.log(`SKIP CrowdSec: ${err.message}`);
      crowdsec = false;
    }
  }
  lab = scope.lab = createLab('op');
  daemon(lab.host, 'listener-host', process.execPath, [join(ROOT, 'test/helpers/bin/tcp-listen.mjs'), String(PORT)]);
  daemon(lab.internet, 'listener-internet', process.execPath, [join(ROOT, 'test/helpers/bin/tcp-listen.mjs'), '25']);
  await sleep(300);
  inbound = startProbe('probe-inbound', lab.internet, lab.addr.hostPub, PORT);
  outbound = startProbe('probe-outbound', lab.host, lab.addr.inet, 25);
  await until('the probes to flow', () => inbound.flowing() && outbound.flowing(), 10_000);

  const cordon = await runCordon();
  const cs = crowdsec ? await runCrowdsec() : [];

  const row = (name, values) => {
    const s = summary(values);
    return `| ${name} | ${s.n} | ${fmt(s.p50, 0)} | ${fmt(s.p90, 0)} | ${fmt(s.max, 0)} |`;
  };
  console.log(`\noperator-path bench, ${started.toISOString()}: ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}${crowdsec ? `, CrowdSec ${crowdsecVersion()}` : ''}`);
  console.log(`probe: TCP connect every ${PROBE_MS} ms, ${PROBE_TIMEOUT_MS} ms timeout; ms from spawning the command to the first failed connect`);
  if (process.env.NODE_EXTRA_CA_CERTS) {
    console.log(
      `the commands ran without NODE_EXTRA_CA_CERTS (set here to ${process.env.NODE_EXTRA_CA_CERTS}); \`node -e 0\` takes ${fmt(nodeStartMs(process.env), 0)} ms with it, ${fmt(nodeStartMs(COMMAND_ENV), 0)} ms without (medians of 10)`,
    );
  }
  console.log('');
  console.log('| command | n | median ms | p90 ms | max ms |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of cs) console.log(row(`CrowdSec, \`cscli decisions add\`, bouncer poll ${r.poll}`, r.samples.map((s) => s.dropMs)));
  console.log(row('Cordon, `cordonctl enforce --host … --action smtp_block` (one operator; probe: the host → port 25)', cordon.smtp.map((s) => s.dropMs)));
  console.log(row('Cordon, `cordonctl approve …` of an isolate (the second operator)', cordon.isolate.map((s) => s.dropMs)));
  console.log('\nthe command alone, spawn to exit:\n');
  console.log('| command | n | median ms | p90 ms | max ms |');
  console.log('| --- | --- | --- | --- | --- |');
  if (cs.length) console.log(row('`cscli decisions add`', cs.flatMap((r) => r.samples.map((s) => s.commandMs))));
  console.log(row('`cordonctl enforce` (smtp_block)', cordon.smtp.map((s) => s.commandMs)));
  console.log(row('`cordonctl approve` (isolate)', cordon.isolate.map((s) => s.commandMs)));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`\noperator-path bench: ${err.stack ?? err}`);
    process.exit(1);
  },
);
