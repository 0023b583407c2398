import { silentLogger, type Logger } from '../../proto/runtime/logger.js';
import type { TlsMaterial } from '../../proto/runtime/tls.js';
import { startController, type RunningController } from '../../controller/createController.js';
import { StaticInventory, type Host } from '../../controller/inventory/Inventory.js';
import { ControllerLink, type ControllerLinkOptions } from '../../agent/link/ControllerLink.js';
import { ResultStatus, type DesiredState, type Report } from '../../proto/gen/cordon/v1/agent.js';
import type { TestPki } from './pki.js';
import type { ControllerSettings } from '../../controller/runController.js';
import type { Store } from '../../controller/store/Store.js';
import { DEFAULT_POLICY } from '../../controller/incidents/policy.js';

export function host(id: string, n: number): Host {
  return { id, customerId: `cust-${n}`, publicPrefixes: [`203.0.113.${n}/32`], managementAddress: `10.255.0.${n}` };
}

export async function startTestController(
  pki: TestPki,
  hosts: Host[],
  overrides: { listen?: string; pingIntervalMs?: number; log?: Logger } = {},
): Promise<RunningController> {
  return startController({
    listen: overrides.listen ?? '127.0.0.1:0',
    tls: pki.controller(),
    revokedSerialsFile: pki.revokedFile,
    inventory: new StaticInventory(hosts),
    staleAfterMissedHeartbeats: 3,
    pingIntervalMs: overrides.pingIntervalMs ?? 30_000,
    helloTimeoutMs: 2_000,
    log: overrides.log ?? silentLogger(),
  });
}

/** An agent link that records the desired states it receives and reports them applied. */
export function testLink(
  tls: TlsMaterial,
  port: number,
  hostId: string,
  overrides: Partial<ControllerLinkOptions> = {},
): { link: ControllerLink; received: DesiredState[] } {
  const received: DesiredState[] = [];
  const link = new ControllerLink({
    hostId,
    agentVersion: 'test',
    address: `127.0.0.1:${port}`,
    serverName: 'localhost',
    tls,
    heartbeatMs: 200,
    backoff: { initialMs: 50, maxMs: 500 },
    log: silentLogger(),
    held: () => ({ generation: received.at(-1)?.generation ?? 0n, observedDigest: 'd', interfaces: [], restricted: (received.at(-1)?.enforcements.length ?? 0) > 0 }),
    onDesiredState: async (state): Promise<Report> => {
      received.push(state);
      return {
        appliedGeneration: state.generation,
        observedDigest: 'd',
        observedAt: new Date(),
        error: '',
        results: state.enforcements.map((e) => ({ enforcementId: e.id, kind: 0, status: ResultStatus.RESULT_STATUS_APPLIED, error: '' })),
      };
    },
    ...overrides,
  });
  return { link, received };
}

/**
 * The settings every test of the whole controller shares (loopback, the test
 * PKI, the default policy, no mail, no BMC, no switch); a test overrides what
 * it is about.
 */
export function controllerSettings(pki: TestPki, store: Store, overrides: Partial<ControllerSettings> = {}): ControllerSettings {
  return {
    listen: '127.0.0.1:0',
    tls: pki.controller(),
    revokedSerialsFile: pki.revokedFile,
    staleAfterMissedHeartbeats: 3,
    pingIntervalMs: 30_000,
    helloTimeoutMs: 2_000,
    store,
    policy: DEFAULT_POLICY,
    smtpRelays: [],
    mail: undefined,
    log: silentLogger(),
    ...overrides,
  };
}
