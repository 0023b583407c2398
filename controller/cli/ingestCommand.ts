import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { SubmitComplaintResponse } from '../../proto/gen/cordon/v1/desk.js';
import { asCordonError, CordonError, isCordonError, type ErrorKind } from '../../proto/runtime/CordonError.js';
import { parseReport, toDryRunJson } from '../intake/parseReport.js';
import { dryRunAuthentication } from '../intake/trust/dryRunAuthentication.js';
import type { DeskClient } from './deskClient.js';
import { renderTable } from './table.js';

type Out = (text: string) => void;

function readInput(source: string | undefined): { bytes: Buffer; filename: string | undefined } {
  if (source === undefined || source === '-') return { bytes: readFileSync(0), filename: undefined };
  try {
    return { bytes: readFileSync(source), filename: basename(source) };
  } catch (err) {
    throw new CordonError('invalid', `cannot read ${source}: ${(err as NodeJS.ErrnoException).code ?? err}`, { field: 'file' });
  }
}

/**
 * `cordonctl ingest --dry-run [--json] [FILE|-]`: what Cordon would make of a report, without a controller.
 * The JSON adds `authentication`: the mail checks for real, decided against `--reporters FILE` when given.
 */
export async function ingestDryRun(source: string | undefined, json: boolean, out: Out, auth: { reporters?: string | undefined; dnsServers?: string[] | undefined } = {}): Promise<number> {
  const { bytes, filename } = readInput(source);
  const result = await parseReport(bytes, filename);
  if (json) {
    const authentication = await dryRunAuthentication(bytes, { reportersFile: auth.reporters, dnsServers: auth.dnsServers });
    out(JSON.stringify({ ...(toDryRunJson(result) as object), authentication }, null, 2) + '\n');
    return 0;
  }
  if (result.needsInfo) out(`needs info: ${result.needsInfo}\n`);
  else {
    out(renderTable(['IP', 'CATEGORY', 'EVENT TIME (UTC)', 'REPORTER', 'KIND', 'FORMAT'], result.complaints.map((c) => [c.ip, c.category, c.eventTime?.toISOString() ?? '-', c.reporter, c.reporterKind, c.format])));
  }
  return 0;
}

/** How long `cordonctl ingest` waits for the controller: a large report takes a while to send, parse and store. */
const SUBMIT_TIMEOUT_MS = 5 * 60_000;

async function submit(client: DeskClient, bytes: Buffer, filename: string | undefined): Promise<SubmitComplaintResponse> {
  try {
    return await client.call<unknown, SubmitComplaintResponse>(
      'submitComplaint',
      { ip: '', category: '', reporter: '', reporterKind: '', eventTime: undefined, evidence: '', raw: '', filename: filename ?? '', report: bytes },
      { timeoutMs: SUBMIT_TIMEOUT_MS },
    );
  } catch (err) {
    // The controller's gRPC server refuses a request over its receive limit (intake.limits.maxReportBytes
    // plus overhead) with RESOURCE_EXHAUSTED before reading it. No overload that passes: the same report
    // is refused again. (cordonctl's own receive limit is off, so the status cannot be about the answer.)
    if (isCordonError(err) && (err.cause as Partial<ServiceError> | undefined)?.code === status.RESOURCE_EXHAUSTED) {
      throw new CordonError('invalid', `the controller refused a report of ${bytes.length} bytes: over its intake.limits.maxReportBytes`, { cause: err });
    }
    throw err;
  }
}

function describe(r: SubmitComplaintResponse): string {
  const list = r.parsed.length > 0 ? r.parsed : [r];
  return list.map((p) => `${p.outcome}: ${p.reason}`).join('\n') + '\n';
}

/** `cordonctl ingest [FILE|-]`: hands a report to the controller, which parses, routes and stores it. */
export async function ingestOne(client: DeskClient, source: string | undefined, json: boolean, out: Out): Promise<number> {
  const { bytes, filename } = readInput(source);
  const r = await submit(client, bytes, filename);
  out(json ? JSON.stringify(SubmitComplaintResponse.toJSON(r), null, 2) + '\n' : describe(r));
  return 0;
}

/** Refusals that the same message would get again: it is set aside rather than retried on every run. */
const PERMANENT: ReadonlySet<ErrorKind> = new Set(['invalid', 'refused']);

/** Where `ingest --maildir` puts messages the controller refused for good. */
export const FAILED_DIR = '.cordon-failed';

/** Moves a refused message to DIR/.cordon-failed/, with NAME.reason beside it saying why. */
function setAside(dir: string, name: string, err: CordonError): void {
  const failed = join(dir, FAILED_DIR);
  mkdirSync(failed, { recursive: true });
  // The reason first: if the move fails, the message is still in new/ and the next run does it again.
  writeFileSync(join(failed, `${name}.reason`), `${new Date().toISOString()} refused (${err.kind}): ${err.message}\n`);
  renameSync(join(dir, 'new', name), join(failed, name));
}

/**
 * `cordonctl ingest --maildir DIR`: every message in DIR/new is submitted and
 * moved to DIR/cur (with the maildir ":2," info suffix) only after the
 * controller committed it. A message the controller refuses for good
 * (invalid, e.g. over intake.limits.maxReportBytes, or refused) is moved to
 * DIR/.cordon-failed/ with a NAME.reason file; one that could not be
 * submitted for a passing reason (the controller unreachable or busy, a
 * timeout) stays in new/ for the next run. Exits 1 when any message was not
 * processed.
 */
export async function ingestMaildir(client: DeskClient, dir: string, out: Out): Promise<number> {
  let names: string[];
  try {
    names = readdirSync(join(dir, 'new')).filter((n) => !n.startsWith('.')).sort();
  } catch (err) {
    throw new CordonError('invalid', `${dir} is not a maildir (no new/): ${(err as NodeJS.ErrnoException).code ?? err}`, { field: '--maildir' });
  }
  let kept = 0;
  let setApart = 0;
  for (const name of names) {
    const path = join(dir, 'new', name);
    try {
      const r = await submit(client, readFileSync(path), name);
      renameSync(path, join(dir, 'cur', name.includes(':2,') ? name : `${name}:2,`));
      out(`${name}: ${describe(r).trim().replace(/\n/g, '; ')}\n`);
    } catch (err) {
      const e = asCordonError(err);
      if (PERMANENT.has(e.kind)) {
        try {
          setAside(dir, name, e);
          setApart++;
          out(`${name}: set aside in ${FAILED_DIR}/: ${e.message}\n`);
          continue;
        } catch (moveErr) {
          out(`${name}: cannot set it aside: ${(moveErr as Error).message}\n`);
        }
      }
      kept++;
      out(`${name}: kept in new/: ${e.message}\n`);
    }
  }
  out(`${names.length - kept - setApart} processed, ${kept} kept for the next run, ${setApart} set aside in ${FAILED_DIR}/\n`);
  return kept + setApart > 0 ? 1 : 0;
}
