import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';

/**
 * Opens the desk's queue at `url` as a browser would with the lab
 * operator's .p12 (the file the lab exported for a browser's store),
 * trusting the lab's CA. Resolves with the status and the page's title.
 */
export function openDeskWithP12(url: string, pkiDir: string, operator: string, passphrase: string): Promise<{ status: number; title: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { pfx: readFileSync(join(pkiDir, `operator-${operator}.p12`)), passphrase, ca: readFileSync(join(pkiDir, 'ca.crt')), timeout: 10_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, title: /<title>([^<]*)<\/title>/i.exec(body)?.[1] ?? '' }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end();
  });
}
