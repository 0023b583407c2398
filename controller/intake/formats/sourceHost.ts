import { canonicalIp } from '../canonicalIp.js';

/**
 * The host name a report's source field names when it names no address:
 * "http://shop.example/login" → shop.example, "evil[.]example" →
 * evil.example. Undefined for an address, or for text that is no host
 * name. Used only to say which name an operator must look up: Cordon never
 * resolves it (the name may point elsewhere by now, or be shared hosting).
 */
export function sourceHost(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim().replace(/\[\.\]|\(\.\)|\[dot\]/gi, '.').replace(/^hxxp/i, 'http');
  let host = text;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    try {
      host = new URL(text).hostname;
    } catch {
      return undefined;
    }
  }
  host = host.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  if (canonicalIp(host) !== undefined) return undefined;
  return /^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$/.test(host) ? host : undefined;
}
