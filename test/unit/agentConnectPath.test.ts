import { describe, expect, it } from 'vitest';
import { AGENT_CONNECT_PATH } from '../../proto/runtime/agentConnectPath.js';
import { AgentServiceService } from '../../proto/gen/cordon/v1/agent.js';
import { AgentMessage as LiteAgentMessage } from '../../proto/gen-messages/cordon/v1/agent.js';
import { AgentMessage } from '../../proto/gen/cordon/v1/agent.js';

describe("the agent's side of the contract, without grpc-js", () => {
  it('dials the path the controller serves AgentService.Connect on', () => {
    expect(AGENT_CONNECT_PATH).toBe(AgentServiceService.connect.path);
  });

  it('encodes its messages as the controller decodes them (the two generated copies agree)', () => {
    const hello = { body: { $case: 'hello' as const, value: { hostId: 'web-01', agentVersion: '1', interfaces: [], generation: 7n, observedDigest: 'd', heartbeatIntervalMs: 10_000, restrictedHeartbeatIntervalMs: 0 } } };
    expect(AgentMessage.decode(LiteAgentMessage.encode(hello).finish())).toEqual(hello);
  });
});
