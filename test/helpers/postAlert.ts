import { request } from 'node:https';
import { request as plainRequest } from 'node:http';

/** One POST to the alerts listener: status and parsed JSON answer. HTTPS checked against `ca` when given, else plain HTTP. */
export function postAlert(
  port: number,
  path: string,
  body: string | Buffer,
  opts: { token?: string; contentType?: string; ca?: Buffer } = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': opts.contentType ?? 'application/json', 'content-length': String(Buffer.byteLength(body)) };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  const options = { host: '127.0.0.1', port, path, method: 'POST', headers, ...(opts.ca ? { ca: opts.ca, servername: 'localhost' } : {}) };
  return new Promise((resolve, reject) => {
    const req = (opts.ca ? request : plainRequest)(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> });
        } catch {
          resolve({ status: res.statusCode ?? 0, json: { text } });
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
