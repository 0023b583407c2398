import { createHash } from 'node:crypto';
import { CordonError } from '../../proto/runtime/CordonError.js';
import type { SqlDatabase } from './SqlDatabase.js';

/** Texts at least this long are stored once in `blobs` rather than inline in each row that holds them. */
export const BLOB_MIN_CHARS = 16 * 1024;

/** The last few texts hashed, by identity: one report's text is handed over for each of its complaints. */
const RECENT = 2;

/**
 * Large texts stored once, by SHA-256 of their UTF-8 bytes (migration
 * `blobs`). Append-only: a stored text never changes or goes away.
 *
 * A report of N complaints asks `put` N times for the same 8 MB string; the
 * hash is remembered for the last few strings seen, and "already stored" is
 * remembered for the rest of the transaction (Database.memo), so only the
 * first call costs a hash and an INSERT.
 */
export class Blobs {
  private readonly recent: { text: string; sha256: string }[] = [];

  constructor(private readonly db: SqlDatabase) {}

  /** Stores `text` unless it is there already; returns its SHA-256 (hex). */
  async put(text: string): Promise<string> {
    const sha256 = this.hash(text);
    const memo = this.db.memo();
    const key = `blob:${sha256}`;
    if (memo?.has(key)) return sha256;
    await this.db.run('INSERT INTO blobs (sha256, text) VALUES (?, ?) ON CONFLICT (sha256) DO NOTHING', [sha256, text]);
    memo?.set(key, true);
    return sha256;
  }

  /** The text with this hash; `internal` when it is missing (the foreign keys make that a damaged file). */
  async get(sha256: string): Promise<string> {
    const row = await this.db.get<{ text: string }>('SELECT text FROM blobs WHERE sha256 = ?', [sha256]);
    if (!row) throw new CordonError('internal', `blob ${sha256} is missing`);
    return row.text;
  }

  private hash(text: string): string {
    // `===` on the very string object handed over again is a pointer comparison, not a scan of 8 MB.
    const seen = this.recent.find((r) => r.text === text);
    if (seen) return seen.sha256;
    const sha256 = createHash('sha256').update(text, 'utf8').digest('hex');
    this.recent.unshift({ text, sha256 });
    this.recent.length = Math.min(this.recent.length, RECENT);
    return sha256;
  }
}
