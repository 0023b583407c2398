#!/usr/bin/env node
// The escape, measured in the project's lab (deploy/lab, one server): the
// customer of a cut server kills its agent (kill -9) and flushes its rules
// (nft flush ruleset); how long until the switch fallback cuts it again, as
// seen from the lab's internet. And the release: from the operator's
// `cordonctl incident release` to the first connection the internet gets
// through, with the agent still dead and with it back.
//
//   npm run build && sudo node test/bench/escape.mjs [--trials 12] [--json FILE]
//
// Each trial: an operator isolates web-01 (`cordonctl enforce`, a second
// operator approves), the agent confirms; the escape; the switch port goes
// down; the customer's fix is recorded; trials alternate between releasing
// with the agent still dead and restarting it first (it re-applies the cut)
// and then releasing. A TCP probe in the internet namespace connects to the
// server's public address on port 22 every 50 ms (250 ms timeout; its
// attempts' starts on CLOCK_MONOTONIC, as the bench's own clock), so the
// figures' resolution is 50 ms. "First refused" is the start of the first
// failed attempt after the escape from which no attempt got through until
// the switch port read down; "first accepted" the start of the first attempt
// after the release that connected. Every wait is bounded; the lab is torn
// down whichever way the bench ends.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fmt, summary } from './lib/stats.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DIST = join(ROOT, 'dist/deploy/lab');
const { LAB_OPERATORS, labCtl, labDown, labUp } = await import(join(DIST, 'lab.js'));
const { LAB_SWITCH_SILENT_SECONDS } = await import(join(DIST, 'labControllers.js'));
const { escapeAsCustomer, labAgentPid, startLabAgent, switchPortUp } = await import(join(DIST, 'labHosts.js'));
const { poll, sleep } = await import(join(DIST, 'processes.js'));
const { ensureLabRequirements } = await import(join(DIST, 'requirements.js'));

const { values: opt } = parseArgs({ options: { trials: { type: 'string', default: '12' }, json: { type: 'string' } } });
const TRIALS = Number(opt.trials);
if (!Number.isInteger(TRIALS) || TRIALS < 2 || TRIALS > 200) throw new Error('--trials must be a whole number from 2 to 200');
const PROBE = { intervalMs: 50, timeoutMs: 250 };
const mono = () => Number(process.hrtime.bigint()) / 1e6;
const say = (line) => console.log(`[${new Date().toISOString().slice(11, 23)}] ${line}`);

ensureLabRequirements(say, 'the escape benchmark');
let info;
let probe;
let stopping = false;
const teardown = async () => {
  if (stopping) return;
  stopping = true;
  probe?.kill('SIGKILL');
  await labDown(() => {});
};
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => teardown().finally(() => process.exit(130)));

/** The probe's attempts so far: { at (ms, CLOCK_MONOTONIC), ok }. */
const attempts = [];
function startProbe(ns, host, port, maxSeconds) {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, join(ROOT, 'test/bench/lib/tcpProbe.mjs'), host, String(port), String(PROBE.intervalMs), String(PROBE.timeoutMs), String(maxSeconds)], { stdio: ['pipe', 'pipe', 'ignore'] });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const [at, ok] = line.split(' ');
    attempts.push({ at: Number(at), ok: ok === '1' });
  });
  return child;
}
/** Attempts that started in [from, to). */
const between = (from, to = Infinity) => attempts.filter((a) => a.at >= from && a.at < to).sort((x, y) => x.at - y.at);
/** Waits until an attempt that started after `from` has the outcome `ok`; its start, or undefined after `ms`. */
async function firstOutcome(from, ok, ms) {
  const found = await poll(() => between(from).find((a) => a.ok === ok)?.at, ms);
  return found;
}

async function trial(k, agentBack) {
  const t = info.topology;
  const host = t.hosts[0];
  const op = (...args) => labCtl(info, LAB_OPERATORS.operator, ...args);
  const admin = (...args) => labCtl(info, LAB_OPERATORS.admin, ...args);
  const state = (id) => JSON.parse(op('incident', 'show', id, '--json')).incident.state;
  const agentConnected = () => JSON.parse(op('agents', '--json')).some((a) => a.hostId === host.id && a.state === 'connected');

  // The cut, confirmed by the agent and seen from the internet.
  op('enforce', '--host', host.id, '--action', 'isolate', '--reason', `escape bench trial ${k}`);
  const approval = JSON.parse(op('approvals', '--json')).find((a) => a.state === 'pending' && a.hostIds.includes(host.id));
  if (!approval) throw new Error(`trial ${k}: no pending approval for the isolate`);
  const id = /inc-[0-9]{8}-[0-9a-f]+/.exec(admin('approve', approval.id))?.[0];
  if (!id || !(await poll(() => (state(id) === 'enforced' ? true : undefined), 20_000))) throw new Error(`trial ${k}: ${id ?? 'the incident'} not enforced within 20 s`);
  if ((await firstOutcome(mono(), false, 5_000)) === undefined) throw new Error(`trial ${k}: still reachable from the internet after the agent confirmed the cut`);

  // The escape.
  await escapeAsCustomer(host);
  const escaped = mono();
  const downAt = await poll(() => (switchPortUp(t, host) === false ? mono() : undefined), LAB_SWITCH_SILENT_SECONDS * 1000 + 30_000);
  if (downAt === undefined) throw new Error(`trial ${k}: the switch port did not go down within ${LAB_SWITCH_SILENT_SECONDS + 30} s of the escape`);
  await sleep(500);
  const after = between(escaped, downAt + 500);
  const lastOk = after.findLast((a) => a.ok);
  const cutAgain = after.find((a) => !a.ok && (!lastOk || a.at > lastOk.at));
  const reopened = after.some((a) => a.ok);
  if (!cutAgain) throw new Error(`trial ${k}: no failed attempt after the escape`);

  // The fix and the release.
  if (agentBack) {
    startLabAgent(info.dir, host);
    if (!(await poll(() => (agentConnected() ? true : undefined), 20_000))) throw new Error(`trial ${k}: the restarted agent did not connect within 20 s`);
    await sleep(1_000); // its first report: the cut re-applied
  }
  op('incident', 'answer', id, '--fixed', '--note', `escape bench trial ${k}`);
  // A returning agent that confirms the cut it holds gets the port back before any release (the switch no longer needed).
  const portUpAtRelease = switchPortUp(t, host);
  const released = mono();
  op('incident', 'release', id);
  const accepted = await firstOutcome(released, true, 60_000);
  const stateAfter = state(id);

  // Back to a clean start: the agent running and connected, the incident finished, the port up.
  if (!labAgentPid(host)) startLabAgent(info.dir, host);
  await poll(() => (agentConnected() ? true : undefined), 20_000);
  const finished = await poll(() => (['released', 'closed'].includes(state(id)) ? state(id) : undefined), 20_000);
  await poll(() => (switchPortUp(t, host) === true ? true : undefined), 10_000);
  await firstOutcome(mono(), true, 10_000);
  return {
    trial: k,
    incident: id,
    reachableAfterEscape: reopened,
    escapeToRefusedMs: cutAgain.at - escaped,
    escapeToPortDownReadMs: downAt - escaped,
    release: agentBack ? 'agent alive' : 'agent dead',
    portUpAtRelease,
    releaseToAcceptedMs: accepted === undefined ? null : accepted - released,
    stateRightAfterRelease: stateAfter,
    finalState: finished ?? state(id),
  };
}

const results = [];
try {
  say(`building the lab (1 server, switch fallback window ${LAB_SWITCH_SILENT_SECONDS} s, sweep 1 s)`);
  info = await labUp({ hosts: 1, say: () => {} });
  const host = info.topology.hosts[0];
  probe = startProbe(info.topology.inetNs, host.pub4, 22, TRIALS * 120 + 60);
  if ((await firstOutcome(mono() - 1_000, true, 10_000)) === undefined) throw new Error('the probe never reached the server before the first cut');
  for (let k = 1; k <= TRIALS; k++) {
    const r = await trial(k, k % 2 === 0);
    results.push(r);
    say(
      `trial ${k}: escape → first refused ${fmt(r.escapeToRefusedMs, 0)} ms (port read down at ${fmt(r.escapeToPortDownReadMs, 0)} ms; reachable in between: ${r.reachableAfterEscape ? 'yes' : 'no'}); ` +
        `release (${r.release}, switch port ${r.portUpAtRelease ? 'already up' : 'down'}) → first accepted ${r.releaseToAcceptedMs === null ? 'none within 60 s' : `${fmt(r.releaseToAcceptedMs, 0)} ms`}; incident ${r.stateRightAfterRelease} right after, then ${r.finalState}`,
    );
  }
} finally {
  await teardown();
}

const row = (label, xs) => {
  const s = summary(xs);
  return `| ${label} | ${s.n} | ${fmt(s.p50, 0)} ms | ${fmt(s.max, 0)} ms |`;
};
const escapeMs = results.map((r) => r.escapeToRefusedMs);
const dead = results.filter((r) => r.release === 'agent dead');
const alive = results.filter((r) => r.release === 'agent alive');
const ok = (rs) => rs.map((r) => r.releaseToAcceptedMs).filter((x) => x !== null);
console.log(`\nescape benchmark, ${TRIALS} trials, lab window ${LAB_SWITCH_SILENT_SECONDS} s, probe every ${PROBE.intervalMs} ms (${PROBE.timeoutMs} ms timeout)\n`);
console.log('| measured | n | median | worst |');
console.log('| --- | --- | --- | --- |');
console.log(row('escape (kill -9 + nft flush) → first refused connection from the internet', escapeMs));
console.log(row('`incident release`, agent dead → first accepted connection', ok(dead)));
console.log(row('`incident release`, agent alive → first accepted connection', ok(alive)));
const never = results.filter((r) => r.releaseToAcceptedMs === null);
if (never.length > 0) console.log(`\nno connection within 60 s of the release in ${never.length} trial(s): ${never.map((r) => `${r.trial} (${r.release})`).join(', ')}`);
if (opt.json) writeFileSync(opt.json, JSON.stringify({ trials: TRIALS, windowSeconds: LAB_SWITCH_SILENT_SECONDS, probe: PROBE, results }, null, 2) + '\n');
console.log(`\nreproduce: npm run build && sudo node test/bench/escape.mjs --trials ${TRIALS}`);
