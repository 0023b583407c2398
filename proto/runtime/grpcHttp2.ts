import { connect, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { isIP } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { parseAddress } from './address.js';
import { GrpcCode, type StatusLike } from './grpcCodes.js';
import type { TlsMaterial } from './tls.js';

// gRPC over HTTP/2 (grpc/doc/PROTOCOL-HTTP2.md), the parts UnaryChannel and
// Http2Bidi share: the message frame, the status in headers or trailers, and
// a mutual-TLS HTTP/2 session.

export const FRAME_HEADER_BYTES = 5;

/** One uncompressed length-prefixed message. */
export function frameMessage(body: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(body.length, 1);
  frame.set(body, FRAME_HEADER_BYTES);
  return frame;
}

/** HTTP status of an answer that is not gRPC → gRPC code (grpc/doc/http-grpc-status-mapping.md). */
export function codeForHttpStatus(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return GrpcCode.INTERNAL;
    case 401:
      return GrpcCode.UNAUTHENTICATED;
    case 403:
      return GrpcCode.PERMISSION_DENIED;
    case 404:
      return GrpcCode.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcCode.UNAVAILABLE;
    default:
      return GrpcCode.UNKNOWN;
  }
}

/** grpc-message is percent-encoded UTF-8; a malformed one is shown as sent. */
function decodeGrpcMessage(raw: string | undefined): string {
  if (!raw) return '';
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

export function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A status read from headers or trailers, shaped as fromGrpcError reads grpc-js's ServiceError. */
export function statusFrom(h: IncomingHttpHeaders): StatusLike | undefined {
  const raw = header(h, 'grpc-status');
  if (raw === undefined) return undefined;
  const code = /^\d{1,2}$/.test(raw) ? Number(raw) : GrpcCode.UNKNOWN;
  const details = decodeGrpcMessage(header(h, 'grpc-message')) || (code === GrpcCode.UNKNOWN && !/^\d{1,2}$/.test(raw) ? `malformed grpc-status ${JSON.stringify(raw)}` : '');
  return { code, details, metadata: { get: (key) => (header(h, key) === undefined ? [] : [header(h, key)]) } };
}

/** "host:port" as an HTTP/2 authority ("[v6]:port" for IPv6). */
export function authorityOf(address: string): { host: string; authority: string } {
  const { host, port } = parseAddress(address);
  return { host, authority: `${isIP(host) === 6 ? `[${host}]` : host}:${port}` };
}

/**
 * An HTTP/2 session over mutual TLS. The server's certificate is checked
 * against `serverName` when given, else against the address's host (an IP
 * address is not a TLS server name, RFC 6066 §3: Node then checks the
 * certificate against the address itself).
 */
export function connectMutualTls(address: string, tls: Pick<TlsMaterial, 'ca' | 'cert' | 'key'>, serverName: string | undefined): ClientHttp2Session {
  const { host, authority } = authorityOf(address);
  const sni = serverName ?? (isIP(host) ? undefined : host);
  return connect(`https://${authority}`, {
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    ...(sni === undefined ? {} : { servername: sni }),
    ...(serverName === undefined ? {} : { checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(serverName, cert) }),
    settings: { enablePush: false },
  });
}
