/** The module that runs a command; main.ts imports only that one. */
export type CommandGroup = 'fleet' | 'host' | 'customerVoice' | 'dueProcess' | 'reporter' | 'clock' | 'ingest' | 'incident';

const VOICE_VERBS = new Set(['queue', 'seen', 'file', 'resend-link', 'revoke-link']);

/** Which group cordonctl's words belong to; unknown words fall to `incident`, which names them in its error. */
export function routeCommand(words: readonly string[]): CommandGroup {
  const [noun, verb] = words;
  if (noun === 'agents' || noun === 'hosts' || noun === 'health' || (noun === 'host' && verb === 'list')) return 'fleet';
  if (noun === 'customer' || (noun === 'host' && verb === 'set-bmc')) return 'host';
  if (noun === 'incident' && VOICE_VERBS.has(verb ?? '')) return 'customerVoice';
  if (noun === 'complaints' || noun === 'reviews' || noun === 'review' || (noun === 'approvals' && verb === 'reject') || (noun === 'complaint' && (verb === 'admit' || verb === 'dismiss'))) {
    return 'dueProcess';
  }
  if (noun === 'reporter') return 'reporter';
  if (noun === 'clock') return 'clock';
  if (noun === 'ingest') return 'ingest';
  return 'incident';
}
