import { DeskServiceService, type ListAgentsResponse, type ListHostsResponse } from '../../proto/gen/cordon/v1/desk.js';
import { healthCheckMethod } from '../../proto/runtime/healthCheckMethod.js';
import { UnaryChannel, type UnaryCallOptions, type UnaryMethod } from '../../proto/runtime/UnaryChannel.js';
import type { Connection } from './connection.js';

export type DeskMethod = keyof typeof DeskServiceService;

/**
 * The operator API as promises, over one HTTP/2 connection (UnaryChannel,
 * not grpc-js: a command's start is most of its time), closed by close().
 */
export class DeskClient {
  private readonly channel: UnaryChannel;

  constructor(conn: Connection, private readonly callOptions: UnaryCallOptions = {}) {
    // No receive limit (grpc-js has 4 MiB): answers carry stored reports whole (up to the controller's
    // intake.limits.maxReportBytes, which cordonctl does not know) and the result of every row of a feed.
    // The controller is authenticated by mutual TLS; a RESOURCE_EXHAUSTED status is then always its refusal.
    this.channel = new UnaryChannel(conn.address, conn.tls, { serverName: conn.serverName });
  }

  listHosts(): Promise<ListHostsResponse> {
    return this.call('listHosts', { customerId: '' });
  }

  listAgents(): Promise<ListAgentsResponse> {
    return this.call('listAgents', {});
  }

  /** Any unary DeskService method by name, as a promise; `options` override the client's (e.g. a longer deadline). */
  call<Req, Res>(method: DeskMethod, request: Req, options: UnaryCallOptions = {}): Promise<Res> {
    const def = DeskServiceService[method] as unknown as UnaryMethod<Req, Res>;
    return this.channel.call(def, request, { ...this.callOptions, ...options });
  }

  /** grpc.health.v1 Check for the whole server ('') or one service: SERVING, NOT_SERVING, … */
  async checkHealth(serviceName = ''): Promise<string> {
    return (await this.channel.call(healthCheckMethod, { service: serviceName }, this.callOptions)).status;
  }

  close(): void {
    this.channel.close();
  }
}
