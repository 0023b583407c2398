// One worker process of the fleet benchmark (test/bench/fleet.mjs starts
// several): hosts many simulated agents, each a real ControllerLink from
// dist/ with its own certificate, so each is a real gRPC client over mutual
// TLS with its own channel and its own HTTP/2 connection (grpc-js shares a
// subchannel only between channels whose credentials share one TLS secure
// context, and the link makes fresh credentials for every session). What is
// simulated is the host: a desired state is "applied" at once and reported
// applied, as test/helpers/controllerHarness.ts testLink() does; nothing runs nft.
//
// Driven over the IPC channel only (not meant to be run by hand):
//   parent -> {type:'start', address, ca, key, certDir, hostIds, heartbeatMs, backoff}
//   parent -> {type:'collect'}  worker -> {type:'receipts', receipts:[[hostId, generation, receivedAt, reportedAt], ...]}
//   parent -> {type:'stop'}     worker stops every link (clean close) and exits
//   worker -> {type:'status', connected, sessions, failedAttempts, rss, cpuMs, lagMaxMs, errors, attempts} every 250 ms
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ControllerLink } from '../../dist/agent/link/ControllerLink.js';
import { InterfaceRole, ResultStatus } from '../../dist/proto/gen/cordon/v1/agent.js';
import { silentLogger } from '../../dist/proto/runtime/logger.js';

if (!process.send) {
  console.error('fleet-agents.mjs is started by test/bench/fleet.mjs over IPC');
  process.exit(2);
}
const now = () => performance.timeOrigin + performance.now();
const links = [];
/** hostId -> [generation, receivedAt, reportedAt] of the desired states received. */
const receipts = [];
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
    // What a small dedicated server would describe: one public, one management interface.
    const interfaces = [
      { name: 'eno1', role: InterfaceRole.INTERFACE_ROLE_PUBLIC, addresses: ['203.0.113.10/24', '2001:db8::10/64'], linkUp: true },
      { name: 'eno2', role: InterfaceRole.INTERFACE_ROLE_MANAGEMENT, addresses: ['10.255.1.10/16'], linkUp: true },
    ];
    const link = new ControllerLink({
      hostId,
      agentVersion: 'fleet-bench',
      address: msg.address,
      serverName: 'localhost',
      tls,
      heartbeatMs: msg.heartbeatMs,
      backoff: msg.backoff,
      log: silentLogger(),
      held: () => ({ generation, observedDigest: digest, interfaces }),
      onDesiredState: async (state) => {
        const receivedAt = now();
        generation = state.generation;
        digest = `fleet-${state.generation}`;
        receipts.push([hostId, Number(state.generation), receivedAt, now()]);
        return {
          appliedGeneration: state.generation,
          observedDigest: digest,
          observedAt: new Date(),
          error: '',
          results: state.enforcements.map((e) => ({ enforcementId: e.id, kind: 0, status: ResultStatus.RESULT_STATUS_APPLIED, error: '' })),
        };
      },
    });
    links.push(link);
    link.start();
  }
  statusTimer = setInterval(sendStatus, 250);
  sendStatus();
}

function sendStatus() {
  let connected = 0;
  let sessions = 0;
  let failedAttempts = 0;
  const errors = {};
  /** How many disconnected agents are at each failed-attempt count (their backoff step). */
  const attempts = {};
  for (const l of links) {
    const s = l.status();
    if (s.connected) connected++;
    sessions += s.sessions;
    failedAttempts += s.failedAttempts;
    if (!s.connected && s.lastError) errors[s.lastError] = (errors[s.lastError] ?? 0) + 1;
    if (!s.connected) attempts[s.failedAttempts] = (attempts[s.failedAttempts] ?? 0) + 1;
  }
  const cpu = process.cpuUsage();
  const lagMaxMs = lag.max / 1e6;
  lag.reset();
  process.send({ type: 'status', connected, sessions, failedAttempts, rss: process.memoryUsage.rss(), cpuMs: (cpu.user + cpu.system) / 1000, lagMaxMs, errors, attempts });
}

async function stop() {
  clearInterval(statusTimer);
  // Clean closes, bounded: link.stop() waits up to 2 s for the controller's OK.
  await Promise.race([Promise.allSettled(links.map((l) => l.stop())), new Promise((r) => setTimeout(r, 5_000))]);
  process.exit(0);
}

process.on('message', (msg) => {
  if (msg.type === 'start') start(msg);
  else if (msg.type === 'collect') process.send({ type: 'receipts', receipts });
  else if (msg.type === 'stop') void stop();
});
