// One worker process of the fleet benchmark (test/bench/fleet.mjs starts
// several): hosts many simulated agents, each with its own certificate and
// its own mutual-TLS connection and HTTP/2 session. `impl: 'light'` (the
// default) speaks the agent's protocol through lib/lightLink.mjs, cheap
// enough that 10,000 of them leave the controller its cores; `impl: 'link'`
// runs a real ControllerLink from dist/ per agent, a grpc-js client with its
// own channel (grpc-js shares a subchannel only between channels whose
// credentials share one TLS secure context, and the link makes fresh
// credentials for every session), as the agent daemon does. What is
// simulated is the host: a desired state is "applied" at once and reported
// applied, as test/helpers/controllerHarness.ts testLink() does; nothing runs nft.
//
// Driven over the IPC channel only (not meant to be run by hand):
//   parent -> {type:'start', address | addresses, ca, key, certDir, hostIds, heartbeatMs, restrictedHeartbeatMs?, keepaliveMs?, backoff, spreadMs?, impl?}
//             (addresses: several controllers, the agent's controller.addresses; replicas.mjs)
//   parent -> {type:'collect', since?}  worker -> {type:'receipts', receipts:[[hostId, generation, receivedAt, reportedAt], ...],
//             connects:[[hostId, address, at], ...]} (only those at or after `since` when given)
//   parent -> {type:'stop'}     worker stops every link (clean close) and exits
//   worker -> {type:'status', connected, sessions, failedAttempts, rss, cpuMs, lagMaxMs, errors, attempts,
//             receipts, byAddress} every 250 ms (byAddress: connected agents per controller address)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ControllerLink } from '../../dist/agent/link/ControllerLink.js';
import { InterfaceRole, ResultStatus } from '../../dist/proto/gen/cordon/v1/agent.js';
import { silentLogger } from '../../dist/proto/runtime/logger.js';
import { LightLink } from './lib/lightLink.mjs';

if (!process.send) {
  console.error('fleet-agents.mjs is started by test/bench/fleet.mjs over IPC');
  process.exit(2);
}
const now = () => performance.timeOrigin + performance.now();
const links = [];
/** The host id of links[i]. */
const linkHosts = [];
/** hostId -> [generation, receivedAt, reportedAt] of the desired states received. */
const receipts = [];
/** [hostId, address, at] of each accepted Hello, and the address each agent is connected to now. */
const connects = [];
const connectedTo = new Map();
let statusTimer;
// A starved worker answers keepalive pings late; this shows whether it was.
const lag = monitorEventLoopDelay({ resolution: 20 });
lag.enable();
// The parent going away (a crash, kill -9) must not leave a thousand clients dialling.
process.on('disconnect', () => process.exit(0));

function start(msg) {
  const ca = readFileSync(msg.ca);
  const key = readFileSync(msg.key);
  for (const hostId of msg.hostIds) {
    const cert = readFileSync(join(msg.certDir, `${hostId}.crt`));
    const tls = { ca, key, cert, certificate: new X509Certificate(cert) };
    let generation = 0n;
    let digest = 'fleet-empty';
    let restricted = false;
    // What a small dedicated server would describe: one public, one management interface.
    const interfaces = [
      { name: 'eno1', role: InterfaceRole.INTERFACE_ROLE_PUBLIC, addresses: ['203.0.113.10/24', '2001:db8::10/64'], linkUp: true },
      { name: 'eno2', role: InterfaceRole.INTERFACE_ROLE_MANAGEMENT, addresses: ['10.255.1.10/16'], linkUp: true },
    ];
    const onDesiredState = async (state) => {
      const receivedAt = now();
      generation = state.generation;
      digest = `fleet-${state.generation}`;
      restricted = state.enforcements.length > 0;
      receipts.push([hostId, Number(state.generation), receivedAt, now()]);
      return {
        appliedGeneration: state.generation,
        observedDigest: digest,
        observedAt: new Date(),
        error: '',
        results: state.enforcements.map((e) => ({ enforcementId: e.id, kind: 0, status: ResultStatus.RESULT_STATUS_APPLIED, error: '' })),
      };
    };
    const held = () => ({ generation, observedDigest: digest, interfaces, restricted });
    const link = msg.impl === 'link' ? new ControllerLink({
      hostId,
      agentVersion: 'fleet-bench',
      address: msg.addresses ? undefined : msg.address,
      addresses: msg.addresses,
      serverName: 'localhost',
      tls,
      heartbeatMs: msg.heartbeatMs,
      ...(msg.restrictedHeartbeatMs ? { restrictedHeartbeatMs: msg.restrictedHeartbeatMs } : {}),
      backoff: msg.backoff,
      log: connectLogger(hostId),
      held,
      onDesiredState,
    }) : new LightLink({
      hostId,
      agentVersion: 'fleet-bench',
      addresses: msg.addresses ?? [msg.address],
      serverName: 'localhost',
      tls,
      heartbeatMs: msg.heartbeatMs,
      ...(msg.restrictedHeartbeatMs ? { restrictedHeartbeatMs: msg.restrictedHeartbeatMs } : {}),
      ...(msg.keepaliveMs ? { keepaliveMs: msg.keepaliveMs } : {}),
      backoff: msg.backoff,
      held,
      onDesiredState,
      onConnected: (address) => {
        connects.push([hostId, address, now()]);
        connectedTo.set(hostId, address);
      },
    });
    links.push(link);
    linkHosts.push(hostId);
    // spreadMs (fleet.mjs --spread-seconds): each agent's first dial after a uniform draw, as after a controller restart.
    if (msg.spreadMs > 0) setTimeout(() => link.start(), Math.random() * msg.spreadMs);
    else link.start();
  }
  statusTimer = setInterval(sendStatus, 250);
  sendStatus();
}

const base = silentLogger();
/**
 * A silent logger that notes which controller each link connected to: the
 * link says so only in its log line (its status has no address). Bench
 * instrumentation: a renamed message would leave byAddress empty, which
 * the driver reports rather than trusts.
 */
function connectLogger(hostId) {
  const log = Object.create(base);
  log.info = (fields, message) => {
    if (message === 'connected to controller' && fields?.address) {
      connects.push([hostId, fields.address, now()]);
      connectedTo.set(hostId, fields.address);
    }
  };
  return log;
}

function sendStatus() {
  let connected = 0;
  let sessions = 0;
  let failedAttempts = 0;
  const errors = {};
  /** How many disconnected agents are at each failed-attempt count (their backoff step). */
  const attempts = {};
  const byAddress = {};
  for (const [i, l] of links.entries()) {
    const s = l.status();
    if (s.connected) {
      connected++;
      const a = connectedTo.get(linkHosts[i]) ?? '?';
      byAddress[a] = (byAddress[a] ?? 0) + 1;
    }
    sessions += s.sessions;
    failedAttempts += s.failedAttempts;
    if (!s.connected && s.lastError) errors[s.lastError] = (errors[s.lastError] ?? 0) + 1;
    if (!s.connected) attempts[s.failedAttempts] = (attempts[s.failedAttempts] ?? 0) + 1;
  }
  const cpu = process.cpuUsage();
  const lagMaxMs = lag.max / 1e6;
  lag.reset();
  process.send({ type: 'status', connected, sessions, failedAttempts, rss: process.memoryUsage.rss(), cpuMs: (cpu.user + cpu.system) / 1000, lagMaxMs, errors, attempts, receipts: receipts.length, byAddress });
}

async function stop() {
  clearInterval(statusTimer);
  // Clean closes, bounded: link.stop() waits up to 2 s for the controller's OK.
  await Promise.race([Promise.allSettled(links.map((l) => l.stop())), new Promise((r) => setTimeout(r, 5_000))]);
  process.exit(0);
}

process.on('message', (msg) => {
  if (msg.type === 'start') start(msg);
  else if (msg.type === 'collect') {
    const since = msg.since ?? -Infinity;
    process.send({ type: 'receipts', receipts: receipts.filter((r) => r[2] >= since), connects: connects.filter((c) => c[2] >= since) });
  }
  else if (msg.type === 'stop') void stop();
});
