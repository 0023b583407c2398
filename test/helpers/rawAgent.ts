import { AgentServiceClient, type AgentMessage, type ControllerMessage, type Report } from '../../proto/gen/cordon/v1/agent.js';
import type { CordonError } from '../../proto/runtime/CordonError.js';
import { clientChannel, openBidi } from '../../proto/runtime/rpcClient.js';
import type { TlsMaterial } from '../../proto/runtime/tls.js';

/** An agent stream driven by hand: say what a hostile or broken agent would say, and see how it ends. */
export interface RawAgent {
  send(message: AgentMessage): Promise<void>;
  report(report: Partial<Report>): Promise<void>;
  /** Resolves with how the controller ended the stream ('ended' for OK). */
  ended: Promise<CordonError | 'ended'>;
  received: ControllerMessage[];
  close(): void;
}

/** Connects with `tls`, says Hello as `hostId` and waits for the controller's first ping (Hello accepted). */
export async function connectRawAgent(tls: TlsMaterial, port: number, hostId: string, heartbeatIntervalMs = 1_000): Promise<RawAgent> {
  const { credentials, options } = clientChannel(tls, 'localhost');
  const client = new AgentServiceClient(`127.0.0.1:${port}`, credentials, options);
  const call = openBidi<AgentMessage, ControllerMessage>((o) => client.connect(o));
  const received: ControllerMessage[] = [];
  let accepted: () => void = () => {};
  const first = new Promise<void>((resolve) => (accepted = resolve));
  const ended = (async (): Promise<CordonError | 'ended'> => {
    try {
      for await (const m of call.responses) {
        received.push(m);
        accepted();
      }
      return 'ended';
    } catch (err) {
      return err as CordonError;
    }
  })();
  await call.send({
    body: { $case: 'hello', value: { hostId, agentVersion: 'raw', interfaces: [], generation: 0n, observedDigest: '', heartbeatIntervalMs, restrictedHeartbeatIntervalMs: 0 } },
  });
  const outcome = await Promise.race([first.then(() => 'accepted' as const), ended]);
  if (outcome !== 'accepted') {
    client.close();
    throw new Error(`the Hello was not accepted: ${outcome === 'ended' ? 'stream ended' : outcome.message}`);
  }
  return {
    send: (m) => call.send(m),
    report: (r) =>
      call.send({
        body: {
          $case: 'report',
          value: { appliedGeneration: 0n, observedDigest: 'raw', observedAt: new Date(), error: '', results: [], applyMs: 0, driftRepairs: 0n, ...r },
        },
      }),
    ended,
    received,
    close: () => {
      call.cancel();
      client.close();
    },
  };
}
