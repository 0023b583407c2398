import { Reporter, type ListReportersResponse } from '../../proto/gen/cordon/v1/desk.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import type { DeskClient } from './deskClient.js';
import type { Flags } from './incidentCommands.js';
import { renderTable } from './table.js';

type Out = (text: string) => void;

const str = (f: Flags, name: string): string | undefined => (typeof f[name] === 'string' ? (f[name] as string) : undefined);
function need(f: Flags, name: string): string {
  const v = str(f, name);
  if (!v) throw new CordonError('invalid', 'is required', { field: `--${name}` });
  return v;
}

/** `cordonctl reporter add|list|remove`. Validation is the controller's; its refusal is printed as one line, naming the field. */
export async function runReporterCommand(client: DeskClient, words: readonly string[], f: Flags, out: Out): Promise<number> {
  const [, verb, arg] = words;
  switch (verb) {
    case 'add': {
      const domains = Array.isArray(f.domain) ? f.domain : [];
      const reporter: Reporter = {
        id: need(f, 'id'),
        name: need(f, 'name'),
        kind: need(f, 'kind'),
        domains,
        arcForwarder: f['arc-forwarder'] === true,
        feed: str(f, 'feed') ?? '',
        source: '',
        addedBy: '',
        addedAt: undefined,
      };
      if (domains.length === 0 && !reporter.feed) throw new CordonError('invalid', 'at least one --domain, or a --feed, is required', { field: '--domain' });
      const r = await client.call<unknown, Reporter>('addReporter', { reporter });
      out(f.json ? JSON.stringify(Reporter.toJSON(r), null, 2) + '\n' : `reporter ${r.id} added (${r.kind}${r.domains.length ? `: ${r.domains.join(', ')}` : ''}${r.feed ? `; feed ${r.feed}` : ''})\n`);
      return 0;
    }
    case 'list': {
      const { reporters } = await client.call<unknown, ListReportersResponse>('listReporters', {});
      if (f.json) {
        out(JSON.stringify(reporters.map((r) => Reporter.toJSON(r)), null, 2) + '\n');
        return 0;
      }
      out(
        renderTable(
          ['ID', 'NAME', 'KIND', 'DOMAINS', 'ARC', 'FEED', 'SOURCE', 'ADDED BY', 'ADDED (UTC)'],
          reporters.map((r) => [r.id, r.name, r.kind, r.domains.join(' ') || '-', r.arcForwarder ? 'yes' : '-', r.feed || '-', r.source, r.addedBy, r.addedAt?.toISOString() ?? '-']),
        ),
      );
      return 0;
    }
    case 'remove': {
      if (!arg || words.length > 3) throw new CordonError('invalid', 'usage: cordonctl reporter remove ID', { field: 'id' });
      const r = await client.call<unknown, Reporter>('removeReporter', { id: arg });
      out(f.json ? JSON.stringify(Reporter.toJSON(r), null, 2) + '\n' : `reporter ${r.id} removed\n`);
      return 0;
    }
    default:
      throw new CordonError('invalid', 'usage: cordonctl reporter add|list|remove', { field: 'command' });
  }
}
