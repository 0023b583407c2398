import type { ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import type { DeskWebLab } from './deskWebLab.js';

/**
 * A live-update stream (GET /events) held open as a browser would, over
 * HTTPS with an operator's client certificate, counting `event: change`.
 */
export interface DeskEventStream {
  /** Resolves once the server answered 200 with an event stream. */
  ready: Promise<void>;
  /** Change events received so far. */
  readonly count: number;
  /** Resolves when `count` exceeds `seen`, or rejects after `withinMs`. */
  after(seen: number, withinMs: number): Promise<number>;
  /** Resolves once no event has arrived for `ms` (the store and agents are quiet), with the count then. */
  quiet(ms: number): Promise<number>;
  close(): void;
}

export function openDeskEvents(lab: DeskWebLab, who: string): DeskEventStream {
  const f = lab.files(who);
  let count = 0;
  let lastAt = Date.now();
  let text = '';
  const waiters = new Set<() => void>();
  let req: ClientRequest;
  const ready = new Promise<void>((resolve, reject) => {
    req = httpsRequest(
      { host: '127.0.0.1', port: lab.controller.deskWebPort, path: '/events', ca: lab.pki.controller().ca, cert: readFileSync(f.certPath), key: readFileSync(f.keyPath), agent: false },
      (res) => {
        if (res.statusCode !== 200 || !String(res.headers['content-type']).startsWith('text/event-stream')) reject(new Error(`the stream answered ${res.statusCode}`));
        res.on('data', (c: Buffer) => {
          text += c.toString('utf8');
          if (text.includes('retry:')) resolve();
          let i: number;
          while ((i = text.indexOf('event: change')) >= 0) {
            text = text.slice(i + 'event: change'.length);
            count += 1;
            lastAt = Date.now();
            for (const w of [...waiters]) w();
          }
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
  return {
    ready,
    get count() {
      return count;
    },
    after(seen, withinMs) {
      if (count > seen) return Promise.resolve(count);
      return new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no change event within ${withinMs} ms (still ${count})`));
        }, withinMs);
        const check = () => {
          if (count <= seen) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(count);
        };
        waiters.add(check);
      });
    },
    async quiet(ms) {
      lastAt = Math.max(lastAt, Date.now());
      while (Date.now() - lastAt < ms) await new Promise((r) => setTimeout(r, ms - (Date.now() - lastAt) + 5));
      return count;
    },
    close: () => req.destroy(),
  };
}
