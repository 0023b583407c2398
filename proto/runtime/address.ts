import { isIP } from 'node:net';

// Apart from config.ts (and its convict) so that cordonctl and the agent's link can parse an address without loading the config stack.
/** "host:port" or "[v6]:port"; what gRPC accepts as a target or a listen address. */
export function parseAddress(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new Error(`must be host:port or [ipv6]:port, got ${JSON.stringify(value)}`);
  }
  const host = m[1] ?? m[2]!;
  if (m[1] && isIP(host) !== 6) throw new Error(`${host} is not an IPv6 address`);
  return { host, port };
}
