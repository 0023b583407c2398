import { createHash, randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import {
  CustomerFile,
  LinkResponse,
  MarkMessagesSeenResponse,
  QueueEntry,
  type IncidentDetail,
  type ListQueueResponse,
} from '../../proto/gen/cordon/v1/desk.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import type { DeskClient } from './deskClient.js';
import type { Flags } from './incidentCommands.js';
import { readDeskNow } from './deskNow.js';
import { age, oneLine, printable, renderTable } from './table.js';

type Out = (text: string) => void;
const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
const str = (f: Flags, name: string): string | undefined => (typeof f[name] === 'string' ? (f[name] as string) : undefined);

function need(f: Flags, name: string): string {
  const v = str(f, name);
  if (!v || !v.trim()) throw new CordonError('invalid', 'is required', { field: `--${name}` });
  return v;
}

function needArg(v: string | undefined, name: string): string {
  if (!v) throw new CordonError('invalid', 'is required', { field: name });
  return v;
}

/** One line for a timestamp: ISO and how long ago. */
const when = (d: Date | undefined, now: Date) => (d ? `${d.toISOString()} (${age(d, now)})` : '-');

/** The customer's side of an incident, for `incident show`: messages with their words, files, links. */
export function renderCustomerVoice(d: IncidentDetail, now = new Date()): string {
  const parts: string[] = [];
  const undelivered = d.incident?.noticeUndeliveredAt;
  if (undelivered) parts.push(`\nnotice NOT delivered since ${when(undelivered, now)}: deadlines wait until a notice reaches the customer\n`);
  parts.push(`\ncustomer messages (${d.messages.length}):\n`);
  if (d.messages.length === 0) parts.push('  none\n');
  for (const m of d.messages) {
    const what = m.kind === 'answer' ? `answer ${m.answer}${m.planDueAt ? ` (fix promised by ${m.planDueAt.toISOString()})` : ''}` : m.kind.replace(/_/g, ' ');
    const from = [m.sourceAddress && `from ${m.sourceAddress}`, m.userAgent && `agent ${JSON.stringify(printable(m.userAgent))}`, m.mailMessageId && `message-id ${printable(m.mailMessageId)}`].filter(Boolean).join(', ');
    parts.push(`  ${m.id}  ${m.at?.toISOString() ?? '-'}  ${what} via ${m.channel} by ${printable(m.actor)}${from ? ` (${from})` : ''}\n`);
    parts.push(`    ${m.seenAt ? `seen by ${m.seenBy} at ${m.seenAt.toISOString()}` : 'UNSEEN'}\n`);
    const body = printable(m.body).trim();
    if (body) parts.push(body.split('\n').map((l) => `    | ${l}`).join('\n') + '\n');
  }
  parts.push(`\nevidence files (${d.files.length}):\n`);
  parts.push(
    d.files.length === 0
      ? '  none\n'
      : renderTable(['FILE', 'NAME', 'TYPE', 'BYTES', 'SHA256', 'MESSAGE'], d.files.map((f) => [f.id, printable(f.filename), printable(f.contentType), f.size.toString(), f.sha256, f.messageId])),
  );
  parts.push(`\npage links (${d.links.length}):\n`);
  parts.push(
    d.links.length === 0
      ? '  none\n'
      : renderTable(
          ['LINK', 'CONTACT', 'CREATED', 'BY', 'REVOKED'],
          d.links.map((l) => [l.id, l.contact, l.createdAt?.toISOString() ?? '-', l.createdBy, l.revokedAt ? `${l.revokedAt.toISOString()} by ${l.revokedBy}` : 'live']),
        ),
  );
  return parts.join('');
}

/**
 * Writes a file the way evidence must be kept: readable by its owner only,
 * never through a path that exists (a symlink planted there included), and
 * with --force only by replacing it whole (a new file renamed over it).
 */
async function saveFile(path: string, bytes: Uint8Array, force: boolean): Promise<void> {
  if (!force) {
    // O_EXCL: fails on anything already there, a dangling symlink too.
    const h = await fs.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') throw new CordonError('conflict', `${path} exists; choose another path or add --force`, { field: '--output' });
      throw new CordonError('invalid', `cannot create ${path}: ${err.message}`, { field: '--output' });
    });
    try {
      await h.writeFile(bytes);
      await h.sync();
    } finally {
      await h.close();
    }
    return;
  }
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  await saveFile(tmp, bytes, false);
  await fs.rename(tmp, path).catch(async (err: NodeJS.ErrnoException) => {
    await fs.rm(tmp, { force: true });
    throw new CordonError('invalid', `cannot replace ${path}: ${err.message}`, { field: '--output' });
  });
}

/** `cordonctl incident queue|seen|file|resend-link|revoke-link …`; returns the exit code. */
export async function runCustomerVoiceCommand(client: DeskClient, words: string[], f: Flags, out: Out): Promise<number> {
  const [, verb, arg, arg2] = words;
  const asJson = f.json === true;
  switch (verb) {
    case 'queue': {
      const limitFlag = str(f, 'limit');
      const limit = limitFlag === undefined ? 0 : Number(limitFlag);
      if (!Number.isInteger(limit) || limit < 0) throw new CordonError('invalid', `${JSON.stringify(limitFlag)} is not a count`, { field: '--limit' });
      const [r, desk] = await Promise.all([client.call<unknown, ListQueueResponse>('listQueue', { limit }), readDeskNow(client)]);
      if (asJson) {
        out(json(r.entries.map((e) => QueueEntry.toJSON(e))));
        return 0;
      }
      if (r.entries.length === 0) {
        out('nothing waits for an operator\n');
        return 0;
      }
      out(
        renderTable(
          ['INCIDENT', 'HOST', 'STATE', 'WHY', `SINCE${desk.mark}`, 'UNSEEN', 'REPORT', 'REASON'],
          r.entries.map((e) => [
            e.incident?.id ?? '-',
            e.hostId || e.incident?.hostId || '-',
            e.incident?.state ?? e.complaint?.status ?? '-',
            e.why,
            when(e.since, desk.now),
            String(e.unseen),
            e.complaint ? oneLine(`${e.complaint.id} ${e.complaint.ip} ${e.complaint.category} from ${e.complaint.reporter || '?'}`) : '-',
            // A report's reason can quote what its sender wrote: one line, no control characters.
            oneLine(e.reason),
          ]),
        ),
      );
      return 0;
    }
    case 'seen': {
      const r = await client.call<unknown, MarkMessagesSeenResponse>('markMessagesSeen', { incidentId: needArg(arg, 'incident id'), messageId: str(f, 'message') ?? '' });
      out(asJson ? json(MarkMessagesSeenResponse.toJSON(r)) : r.marked.length === 0 ? `${arg}: no unseen message\n` : `${arg}: marked seen: ${r.marked.join(', ')}\n`);
      return 0;
    }
    case 'file': {
      const path = need(f, 'output');
      const file = await client.call<unknown, CustomerFile>('getCustomerFile', { incidentId: needArg(arg, 'incident id'), fileId: needArg(arg2, 'file id') });
      // The bytes must be the ones the customer uploaded: the controller recorded their hash at upload.
      const sha = createHash('sha256').update(file.content).digest('hex');
      if (sha !== file.sha256 || BigInt(file.content.length) !== file.size) {
        throw new CordonError('internal', `file ${file.id} arrived as ${file.content.length} bytes with SHA-256 ${sha}, not the ${file.size} bytes ${file.sha256} recorded at upload: not saved`);
      }
      await saveFile(path, file.content, f.force === true);
      const meta = { ...(CustomerFile.toJSON({ ...file, content: Buffer.alloc(0) }) as object), savedTo: path };
      out(asJson ? json(meta) : `${file.id}: ${printable(file.filename)} (${printable(file.contentType)}, ${file.size} bytes, sha256 ${file.sha256}) saved to ${path}\n`);
      return 0;
    }
    case 'resend-link':
    case 'revoke-link': {
      const resend = verb === 'resend-link';
      const r = await client.call<unknown, LinkResponse>(resend ? 'resendLink' : 'revokeLinks', {
        incidentId: needArg(arg, 'incident id'),
        reason: resend ? (str(f, 'reason') ?? '') : need(f, 'reason'),
      });
      if (asJson) out(json(LinkResponse.toJSON(r)));
      else {
        out(`${arg}: ${r.revoked} live link${r.revoked === 1 ? '' : 's'} revoked${r.noticeQueued ? '; the notice is queued again with a new link' : ''}\n`);
        if (r.note) out(`note: ${r.note}\n`);
      }
      return 0;
    }
    default:
      throw new CordonError('invalid', `unknown command ${JSON.stringify(words.join(' '))}; see cordonctl --help`, { field: 'command' });
  }
}
