import { makeGenericClientConstructor, type ChannelCredentials, type ChannelOptions, type Client, type ServiceError } from '@grpc/grpc-js';
import { DeskServiceClient, type ListAgentsResponse, type ListHostsResponse } from '../../proto/gen/cordon/v1/desk.js';
import { callUnary, clientChannel, type ClientCallOptions } from '../../proto/runtime/rpcClient.js';
import type { Connection } from './connection.js';

/** The operator API as promises. One channel, closed by close(). */
export class DeskClient {
  private readonly desk: DeskServiceClient;
  private readonly credentials: ChannelCredentials;
  private readonly options: ChannelOptions;
  private readonly address: string;

  constructor(conn: Connection, private readonly callOptions: ClientCallOptions = {}) {
    const channel = clientChannel(conn.tls, conn.serverName);
    const { credentials } = channel;
    // No receive limit (grpc-js has 4 MiB): answers carry stored reports whole (up to the controller's
    // intake.limits.maxReportBytes, which cordonctl does not know) and the result of every row of a feed.
    // The controller is authenticated by mutual TLS; a RESOURCE_EXHAUSTED status is then always its refusal.
    const options = { ...channel.options, 'grpc.max_receive_message_length': -1 };
    this.desk = new DeskServiceClient(conn.address, credentials, options);
    this.credentials = credentials;
    this.options = options;
    this.address = conn.address;
  }

  listHosts(): Promise<ListHostsResponse> {
    return callUnary(this.desk.listHosts.bind(this.desk), { customerId: '' }, this.callOptions);
  }

  listAgents(): Promise<ListAgentsResponse> {
    return callUnary(this.desk.listAgents.bind(this.desk), {}, this.callOptions);
  }

  /** Any unary DeskService method by name, as a promise; `options` override the client's (e.g. a longer deadline). */
  call<Req, Res>(method: keyof DeskServiceClient & string, request: Req, options: ClientCallOptions = {}): Promise<Res> {
    const fn = (this.desk[method] as unknown as (...a: unknown[]) => never).bind(this.desk);
    return callUnary<Req, Res>(fn as never, request, { ...this.callOptions, ...options });
  }

  /** grpc.health.v1 Check for the whole server ('') or one service. */
  async checkHealth(serviceName = ''): Promise<string> {
    // grpc-health-check reads its .proto with protobufjs when imported (about 35 ms):
    // only the commands that check health pay for it.
    const { service } = await import('grpc-health-check');
    const Health = makeGenericClientConstructor(service, 'grpc.health.v1.Health');
    const health = new Health(this.address, this.credentials, { ...this.options, channelOverride: this.desk.getChannel() }) as unknown as Client & {
      check: (req: { service: string }, md: unknown, opts: unknown, cb: (e: ServiceError | null, r: { status: string }) => void) => never;
    };
    const res = await callUnary<{ service: string }, { status: string | number }>(
      health.check.bind(health) as never,
      { service: serviceName },
      this.callOptions,
    );
    return String(res.status);
  }

  close(): void {
    this.desk.close();
  }
}
