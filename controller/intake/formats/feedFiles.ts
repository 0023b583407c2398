import { gunzipSync } from 'node:zlib';
import { IntakeLimitError, isIntakeLimitError, type IntakeLimits } from '../limits.js';
import { readZip, type DecompressBudget } from '../readZip.js';
import type { MessagePart, ParsedMessage } from '../types.js';

/** One file of a feed: an attachment, a member of a zip or gzip attachment, or the mail's text body. */
export interface FeedFile {
  filename: string | undefined;
  text: string;
  /** The mail's text body rather than a file. */
  body?: boolean;
}

function isZip(part: MessagePart): boolean {
  return part.contentType === 'application/zip' || /\.zip$/i.test(part.filename ?? '') || (part.content[0] === 0x50 && part.content[1] === 0x4b);
}

function isGzip(part: MessagePart): boolean {
  // RFC 1952 §2.3.1: ID1 ID2 = 1f 8b; the name or type alone is not enough, the bytes must say so.
  return part.content[0] === 0x1f && part.content[1] === 0x8b;
}

/** Parts a feed may be in: text of any kind, JSON, CSV, and the octet-streams mailers label files they do not know. */
function isTextual(part: MessagePart): boolean {
  return (
    /^(text\/(?!html)|application\/(csv|json|x-ndjson|ndjson|jsonl|x-jsonlines|json-seq|octet-stream|vnd\.ms-excel))/.test(part.contentType) ||
    /\.(csv|tsv|psv|txt|json|jsonl|ndjson)$/i.test(part.filename ?? '')
  );
}

/**
 * gzip (RFC 1952), inflated within the same limits as one zip member: zlib
 * stops at what is left of intake.limits.zipMemberBytes and
 * decompressedBytes, whatever the trailer claims.
 */
function gunzipCounted(part: MessagePart, limits: IntakeLimits, budget: DecompressBudget): Buffer {
  const where = `gzip ${part.filename ?? 'attachment'}`;
  const memberRoom = limits.zipMemberBytes;
  const totalRoom = limits.decompressedBytes - budget.used;
  const room = Math.min(memberRoom, totalRoom);
  let bytes: Buffer | undefined;
  try {
    bytes = gunzipSync(part.content, { maxOutputLength: room + 1 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') throw err;
  }
  if (bytes === undefined || bytes.length > room) {
    if (memberRoom <= totalRoom) throw new IntakeLimitError('zipMemberBytes', room + 1, limits.zipMemberBytes, where, true);
    throw new IntakeLimitError('decompressedBytes', budget.used + room + 1, limits.decompressedBytes, where, true);
  }
  budget.used += bytes.length;
  return bytes;
}

/**
 * A decompressed file's text. Its lines are not checked here: the readers
 * bound what they read (a CSV record by intake.limits.lineLength, JSON by
 * jsonDepth), and a member that is no feed at all costs nothing more.
 */
function decompressedFile(name: string | undefined, bytes: Uint8Array): FeedFile {
  return { filename: name, text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8') };
}

/**
 * The files of a message a feed may be in: its textual parts as they are,
 * the members of zip parts and the content of gzip parts, decompressed
 * within the intake limits (IntakeLimitError past one), and, with
 * `withBody`, the text of a mail's body (a bare file is its one part
 * already). A corrupt archive is left out: other parts may still be read.
 */
export function feedFiles(message: ParsedMessage, limits: IntakeLimits, withBody = false): FeedFile[] {
  const files: FeedFile[] = [];
  const budget: DecompressBudget = { used: 0 };
  for (const part of message.parts) {
    try {
      if (isZip(part)) {
        for (const m of readZip(part.content, limits, budget, `zip ${part.filename ?? 'attachment'}`)) files.push(decompressedFile(m.name, m.bytes));
      } else if (isGzip(part)) {
        files.push(decompressedFile(part.filename?.replace(/\.gz$/i, ''), gunzipCounted(part, limits, budget)));
      } else if (isTextual(part)) {
        files.push({ filename: part.filename, text: part.content.toString('utf8') });
      }
    } catch (err) {
      if (isIntakeLimitError(err)) throw err;
      // A corrupt archive is not a report we can read; other parts may still be.
    }
  }
  if (withBody && message.headers.size > 0 && message.text.trim() !== '') files.push({ filename: undefined, text: message.text, body: true });
  return files;
}
