import type { FastifyReply } from 'fastify';
import type { DeskAccess, DeskOperator } from './DeskAccess.js';
import type { DeskChanges } from './DeskChanges.js';

/** How often an idle stream gets a comment line, so proxies and the browser keep it open and a dead peer is noticed. */
const KEEPALIVE_MS = 15_000;

/**
 * The open live-update streams (GET /events, Server-Sent Events), at most
 * `max` of them: one more is refused with 503, and its page keeps working
 * without live updates. Each stream sends `event: change` when DeskChanges
 * fires, and ends when its operator's certificate is revoked (checked at
 * every send, as a gRPC stream is checked at every message).
 */
export class DeskEventStreams {
  private readonly open = new Set<() => void>();

  constructor(
    private readonly changes: DeskChanges,
    private readonly access: DeskAccess,
    private readonly max: number,
    private readonly headers: Record<string, string>,
  ) {}

  get count(): number {
    return this.open.size;
  }

  /** Serves one stream on `reply` (already admitted); returns false, sending nothing, when the streams are full. */
  serve(reply: FastifyReply, operator: DeskOperator): boolean {
    if (this.open.size >= this.max) return false;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { ...this.headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    // The browser's retry delay after a drop: short, since the desk is on the management network.
    res.write('retry: 2000\n\n');
    const send = (chunk: string) => {
      if (this.access.revoked(operator)) {
        end();
        return;
      }
      res.write(chunk);
    };
    const unsubscribe = this.changes.subscribe(() => send('event: change\ndata: {}\n\n'));
    const keepalive = setInterval(() => send(': keepalive\n\n'), KEEPALIVE_MS);
    keepalive.unref();
    const end = () => {
      if (!this.open.delete(end)) return;
      clearInterval(keepalive);
      unsubscribe();
      res.end();
    };
    this.open.add(end);
    res.once('close', end);
    return true;
  }

  /** Ends every stream (before the server closes, which would otherwise wait for them). */
  closeAll(): void {
    for (const end of [...this.open]) end();
  }
}
