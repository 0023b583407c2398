/** AgentService.Connect's gRPC path; test/unit/agentConnectPath.test.ts holds it to the generated service. */
export const AGENT_CONNECT_PATH = '/cordon.v1.AgentService/Connect';
