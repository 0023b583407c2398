import { Server, ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { AgentServiceService } from '../proto/gen/cordon/v1/agent.js';
import { DeskServiceService } from '../proto/gen/cordon/v1/desk.js';
import { CordonError } from '../proto/runtime/CordonError.js';
import { parseAddress } from '../proto/runtime/config.js';
import type { Logger } from '../proto/runtime/logger.js';
import { bidiHandler, unaryHandler } from '../proto/runtime/rpcServer.js';
import type { TlsMaterial } from '../proto/runtime/tls.js';
import { MemoryDesiredStates } from './agents/DesiredStates.js';
import { handleAgentConnect } from './agents/handleAgentConnect.js';
import { RevocationList } from './agents/RevocationList.js';
import { SessionRegistry } from './agents/SessionRegistry.js';
import { createAuthorize } from './authorize.js';
import { createDeskHandlers } from './desk/deskService.js';
import type { Inventory } from './inventory/Inventory.js';

export interface ControllerOptions {
  listen: string;
  tls: TlsMaterial;
  revokedSerialsFile: string;
  inventory: Inventory;
  staleAfterMissedHeartbeats: number;
  pingIntervalMs: number;
  helloTimeoutMs: number;
  log: Logger;
  clock?: () => Date;
}

export interface RunningController {
  /** The port actually bound (useful with port 0). */
  port: number;
  sessions: SessionRegistry;
  desired: MemoryDesiredStates;
  /** Stops accepting calls, ends agent streams, and waits up to `graceMs` for calls to finish. */
  stop(graceMs?: number): Promise<void>;
}

/** Wires the controller's parts and starts the gRPC server. */
export async function startController(opts: ControllerOptions): Promise<RunningController> {
  const clock = opts.clock ?? (() => new Date());
  const log = opts.log;
  const sessions = new SessionRegistry(clock, opts.staleAfterMissedHeartbeats);
  const desired = new MemoryDesiredStates(clock);
  const authorize = createAuthorize(new RevocationList(opts.revokedSerialsFile));
  const rpcLog = log.child({ component: 'rpc' });
  const deps = { log: rpcLog, authorize };

  const server = new Server({
    // Agents ping through NATs and firewalls; allow their keepalives.
    'grpc.keepalive_time_ms': 20_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
    'grpc.max_receive_message_length': 4 * 1024 * 1024,
  });
  const linkDeps = {
    log: log.child({ component: 'agent-link' }),
    clock,
    inventory: opts.inventory,
    sessions,
    desired,
    pingIntervalMs: opts.pingIntervalMs,
    helloTimeoutMs: opts.helloTimeoutMs,
  };
  server.addService(AgentServiceService, {
    connect: bidiHandler('AgentService/Connect', (stream, ctx) => handleAgentConnect(stream, ctx, linkDeps), deps),
  });
  const desk = createDeskHandlers({ inventory: opts.inventory, sessions });
  server.addService(DeskServiceService, {
    listHosts: unaryHandler('DeskService/ListHosts', desk.listHosts, deps),
    listAgents: unaryHandler('DeskService/ListAgents', desk.listAgents, deps),
  });
  const health = new HealthImplementation({
    '': 'SERVING',
    'cordon.v1.AgentService': 'SERVING',
    'cordon.v1.DeskService': 'SERVING',
  });
  health.addToServer(server);

  const credentials = ServerCredentials.createSsl(
    opts.tls.ca,
    [{ private_key: opts.tls.key, cert_chain: opts.tls.cert }],
    true,
  );
  const { host, port } = parseAddress(opts.listen);
  const bindTarget = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const boundPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync(bindTarget, credentials, (err, p) =>
      err
        ? reject(new CordonError('transient', `cannot listen on ${bindTarget}: ${err.message}`, { field: 'listen', cause: err }))
        : resolve(p),
    ),
  );
  log.info({ listen: `${host}:${boundPort}` }, 'controller listening');

  const linkLog = linkDeps.log;
  const sweeper = setInterval(() => {
    const { stale, recovered } = sessions.sweep();
    for (const hostId of stale) linkLog.warn({ host: hostId }, 'agent stale: heartbeats missing');
    for (const hostId of recovered) linkLog.info({ host: hostId }, 'agent heartbeats resumed');
  }, 1_000);
  sweeper.unref();

  return {
    port: boundPort,
    sessions,
    desired,
    async stop(graceMs = 5_000) {
      clearInterval(sweeper);
      health.setStatus('', 'NOT_SERVING');
      // Agent streams never finish by themselves: end them with UNAVAILABLE,
      // which agents treat as "reconnect later", then let unary calls finish.
      sessions.closeAll('the controller is shutting down');
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      log.info('controller stopped');
    },
  };
}
