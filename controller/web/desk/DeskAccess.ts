import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import { CordonError } from '../../../proto/runtime/CordonError.js';
import { identityFromCertificate, type PeerIdentity } from '../../../proto/runtime/peerIdentity.js';
import type { CallContext } from '../../../proto/runtime/rpcServer.js';
import type { RevocationList } from '../../agents/RevocationList.js';
import { createAuthorize } from '../../authorize.js';

/** An operator as the desk's pages know them: what DeskService's handlers get as `ctx.peer`. */
export type DeskOperator = Extract<PeerIdentity, { kind: 'operator' }>;

/**
 * Who is asking, and whether they may: the browser's client certificate
 * (verified against the Cordon CA in the handshake) read by the same
 * `identityFromCertificate` as DeskService, and each page or action checked
 * by the same `createAuthorize` (revocation, operator certificates only,
 * DESK_ROLES) under the name of the DeskService method it calls. There is
 * no role table here.
 */
export class DeskAccess {
  private readonly authorize: ReturnType<typeof createAuthorize>;
  /**
   * The identity read from each connection's certificate, once: the
   * certificate is fixed at the handshake (the server allows no
   * renegotiation), while revocation and the role are checked on every request.
   */
  private readonly identities = new WeakMap<TLSSocket, PeerIdentity>();

  constructor(private readonly revocations: RevocationList) {
    this.authorize = createAuthorize(revocations);
  }

  /** The operator behind a request, allowed `method` (e.g. 'DeskService/GetIncident'); throws `unauthenticated` or `permission`. */
  admit(request: FastifyRequest, method: string): DeskOperator {
    const peer = this.identityOf(request.raw.socket as TLSSocket);
    this.authorize(peer, method);
    // authorize lets feeds call SubmitComplaint; the pages are for operators only, whatever they call.
    if (peer.kind !== 'operator') throw new CordonError('permission', 'the desk is for operator certificates only');
    return peer;
  }

  private identityOf(socket: TLSSocket): PeerIdentity {
    let peer = this.identities.get(socket);
    if (!peer) {
      peer = identityFromCertificate(socket.getPeerCertificate());
      this.identities.set(socket, peer);
    }
    return peer;
  }

  /** Whether the operator may call `method`: the same check, used to show only the forms that would succeed. */
  may(peer: DeskOperator, method: string): boolean {
    try {
      this.authorize(peer, method);
      return true;
    } catch {
      return false;
    }
  }

  /** Whether an admitted operator's certificate has been revoked since (for long-lived streams). */
  revoked(peer: DeskOperator): boolean {
    return this.revocations.revoked(peer.serial) !== undefined;
  }

  /** The CallContext a desk handler gets, as over gRPC; aborted when the browser goes away. */
  context(request: FastifyRequest, peer: DeskOperator): CallContext {
    const controller = new AbortController();
    request.raw.once('close', () => controller.abort(new CordonError('transient', 'the browser closed the request')));
    return { peer, peerAddress: `${request.ip}:${request.raw.socket.remotePort ?? 0}`, signal: controller.signal };
  }
}
