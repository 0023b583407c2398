import { readFileSync, readdirSync, renameSync } from 'node:fs';
import { basename, join } from 'node:path';
import { SubmitComplaintResponse } from '../../proto/gen/cordon/v1/desk.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
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

async function submit(client: DeskClient, bytes: Buffer, filename: string | undefined): Promise<SubmitComplaintResponse> {
  return client.call<unknown, SubmitComplaintResponse>('submitComplaint', {
    ip: '', category: '', reporter: '', reporterKind: '', eventTime: undefined, evidence: '', raw: '', filename: filename ?? '', report: bytes,
  });
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

/**
 * `cordonctl ingest --maildir DIR`: every message in DIR/new is submitted and
 * moved to DIR/cur (with the maildir ":2," info suffix) only after the
 * controller committed it; a message that could not be submitted stays in
 * new/ for the next run.
 */
export async function ingestMaildir(client: DeskClient, dir: string, out: Out): Promise<number> {
  let names: string[];
  try {
    names = readdirSync(join(dir, 'new')).filter((n) => !n.startsWith('.')).sort();
  } catch (err) {
    throw new CordonError('invalid', `${dir} is not a maildir (no new/): ${(err as NodeJS.ErrnoException).code ?? err}`, { field: '--maildir' });
  }
  let failed = 0;
  for (const name of names) {
    const path = join(dir, 'new', name);
    try {
      const r = await submit(client, readFileSync(path), name);
      renameSync(path, join(dir, 'cur', name.includes(':2,') ? name : `${name}:2,`));
      out(`${name}: ${describe(r).trim().replace(/\n/g, '; ')}\n`);
    } catch (err) {
      failed++;
      out(`${name}: kept in new/: ${(err as Error).message}\n`);
    }
  }
  out(`${names.length - failed} processed, ${failed} kept for the next run\n`);
  return failed > 0 ? 1 : 0;
}
