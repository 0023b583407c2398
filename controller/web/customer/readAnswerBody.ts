import type { FastifyRequest } from 'fastify';
import type { UploadedFile } from '../../customer/CustomerVoice.js';

/** A body the page will not read, with the HTTP status and the limit in words. */
export class BodyRefused extends Error {
  constructor(
    readonly status: 400 | 413,
    message: string,
  ) {
    super(message);
  }
}

export interface BodyLimits {
  maxFiles: number;
  maxFileBytes: number;
}

/** Field values beyond this are refused, not cut (the answer text's own limit is checked with its name in customerAnswers). */
export const MAX_FIELD_BYTES = 128 * 1024;
const MAX_FIELDS = 16;

/** Bytes as the customer reads a limit: 10485760 → "10 MiB". */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/**
 * The answer form's fields and files, from an urlencoded or a multipart
 * body, within `web.customer.maxFiles` and `maxFileBytes`. Files are read
 * whole into memory (at most maxFiles × maxFileBytes per request) because
 * nothing is recorded until the CSRF field, which may come after them, is
 * checked. A file input left empty sends an unnamed empty part: skipped.
 * Throws BodyRefused naming the limit; the rest of the body is then not read.
 */
export async function readAnswerBody(request: FastifyRequest, limits: BodyLimits): Promise<{ fields: Record<string, string>; files: UploadedFile[] }> {
  if (!request.isMultipart()) {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(body)) {
      // A field sent twice arrives as an array, a JSON body may hold anything: only one text value per field is an answer.
      if (typeof v !== 'string') throw new BodyRefused(400, `the field ${k} must be sent once, as text`);
      fields[k] = v;
    }
    return { fields, files: [] };
  }
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  const files: UploadedFile[] = [];
  try {
    const parts = request.parts({
      limits: { fileSize: limits.maxFileBytes, files: limits.maxFiles, fields: MAX_FIELDS, fieldSize: MAX_FIELD_BYTES, parts: limits.maxFiles + MAX_FIELDS, headerPairs: 100 },
    });
    for await (const part of parts) {
      if (part.type === 'file') {
        const bytes = await part.toBuffer();
        if (part.fieldname !== 'files') throw new BodyRefused(400, `unexpected file field ${part.fieldname}`);
        if (part.filename === '' && bytes.length === 0) continue;
        files.push({ filename: part.filename, contentType: part.mimetype, bytes });
      } else {
        if (part.valueTruncated) throw new BodyRefused(413, `the field ${part.fieldname} is larger than ${formatBytes(MAX_FIELD_BYTES)}`);
        if (part.fieldname in fields) throw new BodyRefused(400, `the field ${part.fieldname} was sent more than once`);
        fields[part.fieldname] = String(part.value);
      }
    }
  } catch (err) {
    if (err instanceof BodyRefused) throw err;
    switch ((err as { code?: string }).code) {
      case 'FST_REQ_FILE_TOO_LARGE':
        throw new BodyRefused(413, `each file may be at most ${formatBytes(limits.maxFileBytes)} (web.customer.maxFileBytes)`);
      case 'FST_FILES_LIMIT':
        throw new BodyRefused(413, `at most ${limits.maxFiles} files may go with one answer (web.customer.maxFiles)`);
      case 'FST_FIELDS_LIMIT':
      case 'FST_PARTS_LIMIT':
        throw new BodyRefused(413, 'the form has more fields than the page sends');
      case 'FST_PROTO_VIOLATION':
        throw new BodyRefused(400, 'the form has a field name that is not allowed');
      default:
        throw err;
    }
  }
  return { fields: { ...fields }, files };
}
