import { Customer, Host, HostDetail } from '../../proto/gen/cordon/v1/desk.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import type { DeskClient } from './deskClient.js';
import type { Flags } from './incidentCommands.js';

type Out = (text: string) => void;

const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
const str = (f: Flags, name: string): string | undefined => (typeof f[name] === 'string' ? (f[name] as string) : undefined);
function need(f: Flags, name: string): string {
  const v = str(f, name);
  if (!v) throw new CordonError('invalid', 'is required', { field: `--${name}` });
  return v;
}
function int(f: Flags, name: string, min: number, max: number): number {
  const v = str(f, name);
  if (v === undefined) return 0;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new CordonError('invalid', `must be a whole number from ${min} to ${max}`, { field: `--${name}` });
  return n;
}

/** `cordonctl customer show|set-contact …` and `cordonctl host set-bmc …`; returns the exit code. */
export async function runHostCommand(client: DeskClient, words: string[], f: Flags, out: Out): Promise<number> {
  const [noun, verb, arg] = words;
  const asJson = f.json === true;
  switch (`${noun} ${verb ?? ''}`.trim()) {
    case 'customer set-contact': {
      const customerId = arg ?? need(f, 'customer');
      const c = await client.call<unknown, Customer>('setCustomerContact', { customerId, email: need(f, 'email'), name: str(f, 'name') ?? '', reason: need(f, 'reason') });
      out(asJson ? json(Customer.toJSON(c)) : `customer ${c.id}: notices go to ${c.email} (${c.name}); the previous address is told\n`);
      return 0;
    }
    case 'customer show': {
      // No call reads a customer alone: its contact comes with any of its hosts.
      const customerId = arg ?? need(f, 'customer');
      const { hosts } = await client.listHosts();
      const own = hosts.filter((h) => h.customerId === customerId);
      if (own.length === 0) throw new CordonError('not_found', `customer ${customerId} has no hosts`, { field: 'customer' });
      const d = await client.call<unknown, HostDetail>('getHost', { id: own[0]!.id });
      const c = { id: customerId, name: d.host?.customerName ?? '', email: d.host?.customerEmail ?? '' };
      out(
        asJson
          ? json({ ...(Customer.toJSON(c) as object), hosts: own.map((h) => h.id) })
          : `customer ${c.id}\n  name:  ${c.name || '-'}\n  email: ${c.email || '-'}\n  hosts: ${own.map((h) => h.id).join(' ')}\n`,
      );
      return 0;
    }
    case 'host set-bmc': {
      const hostId = arg ?? need(f, 'id');
      const bmc = {
        address: need(f, 'address'),
        port: int(f, 'port', 1, 65535),
        user: need(f, 'user'),
        passwordFile: need(f, 'password-file'),
        sol: f.sol === true,
        cipherSuite: int(f, 'cipher-suite', 0, 17),
      };
      const h = await client.call<unknown, Host>('setHostBmc', { hostId, bmc });
      out(asJson ? json(Host.toJSON(h)) : `host ${h.id}: BMC ${h.bmc?.address}:${h.bmc?.port} as ${h.bmc?.user}, password file ${h.bmc?.passwordFile}\n`);
      return 0;
    }
    default:
      throw new CordonError('invalid', `unknown command ${JSON.stringify(words.join(' '))}; see cordonctl --help`, { field: 'command' });
  }
}
