import pg from 'pg';
import type { Logger } from '../../proto/runtime/logger.js';
import type { SqlDatabase } from '../store/SqlDatabase.js';

/** The channels replicas speak on; payloads are small JSON objects naming the sender replica. */
export type Channel = 'cordon_hosts' | 'cordon_agents' | 'cordon_clock' | 'cordon_inventory' | 'cordon_changes';
const CHANNELS: readonly Channel[] = ['cordon_hosts', 'cordon_agents', 'cordon_clock', 'cordon_inventory', 'cordon_changes'];

/** PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more. */
export const MAX_PAYLOAD_BYTES = 7_900;

type Handler = (payload: unknown) => void;

/**
 * What one replica tells the others, over PostgreSQL's LISTEN/NOTIFY: a
 * nudge ("these hosts changed"), never the state itself, which every
 * replica reads from the database. A notification can be lost (the
 * listening connection drops and comes back), so each user also re-checks
 * on a timer and on `onResync`, which fires after every reconnect.
 *
 * The listener holds one connection of its own, outside the store's pool:
 * LISTEN belongs to a session, and a pooled connection would lose it.
 * Sending goes through the store, so a NOTIFY sent inside a transaction is
 * delivered at its COMMIT and never for a rollback.
 */
export class ReplicaBus {
  private client: pg.Client | undefined;
  private readonly handlers = new Map<Channel, Set<Handler>>();
  private readonly resync = new Set<() => void>();
  private stopped = false;
  private retryMs = 250;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: string,
    private readonly db: SqlDatabase,
    private readonly log: Logger,
  ) {}

  /** Connects and listens; resolves once listening (the first time: a failure here stops the start). */
  async start(): Promise<void> {
    await this.connect();
  }

  on(channel: Channel, handler: Handler): void {
    let set = this.handlers.get(channel);
    if (!set) this.handlers.set(channel, (set = new Set()));
    set.add(handler);
  }

  /** Called after the listening connection came back: notifications may have been missed meanwhile. */
  onResync(fn: () => void): void {
    this.resync.add(fn);
  }

  /** Sends `payload` (JSON, under MAX_PAYLOAD_BYTES) to every listening replica, this one included. */
  async publish(channel: Channel, payload: unknown): Promise<void> {
    const text = JSON.stringify(payload);
    if (Buffer.byteLength(text) >= MAX_PAYLOAD_BYTES) throw new Error(`a ${channel} notification of ${Buffer.byteLength(text)} bytes is over ${MAX_PAYLOAD_BYTES}`);
    await this.db.get('SELECT pg_notify(?, ?)', [channel, text]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('notification', (n) => this.deliver(n.channel as Channel, n.payload));
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('the connection ended')));
    await client.connect();
    await client.query(CHANNELS.map((c) => `LISTEN ${c}`).join('; '));
    if (this.stopped) {
      await client.end();
      return;
    }
    this.client = client;
    this.retryMs = 250;
  }

  private deliver(channel: Channel, payload: string | undefined): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload ?? 'null');
    } catch {
      this.log.warn({ channel }, 'ignored a notification that is not JSON');
      return;
    }
    for (const h of this.handlers.get(channel) ?? []) {
      try {
        h(parsed);
      } catch (err) {
        this.log.error({ channel, err: (err as Error).message }, 'a notification handler failed');
      }
    }
  }

  private lost(client: pg.Client, err: Error): void {
    if (this.client !== client || this.stopped) return;
    this.client = undefined;
    client.end().catch(() => undefined);
    this.log.warn({ err: err.message, retryMs: this.retryMs }, 'lost the notification connection; reconnecting');
    const retry = () => {
      if (this.stopped) return;
      this.connect().then(
        () => {
          this.log.info('notification connection back; re-checking what may have been missed');
          for (const fn of this.resync) fn();
        },
        (e: Error) => {
          this.retryMs = Math.min(this.retryMs * 2, 10_000);
          this.log.warn({ err: e.message, retryMs: this.retryMs }, 'cannot reconnect the notification connection yet');
          this.retryTimer = setTimeout(retry, this.retryMs);
        },
      );
    };
    this.retryTimer = setTimeout(retry, this.retryMs);
  }
}
