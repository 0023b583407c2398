import { readFileSync } from 'node:fs';
import { CordonError } from '../../proto/runtime/CordonError.js';
import type { ConvergeResult, Engine } from '../enforce/Engine.js';
import { parseDesiredText } from '../enforce/parseDesired.js';

type Out = (line: string) => void;

function printOutcomes(result: ConvergeResult, out: Out): number {
  out(`generation ${result.generation}${result.unchanged ? ' (already in place, nothing changed)' : ''}, digest ${result.digest}`);
  if (result.outcomes.length === 0) out('no enforcement: nothing Cordon owns is left on this host');
  for (const o of result.outcomes) {
    out(`${o.status.toUpperCase().padEnd(7)} ${o.kind} ${o.id} (incident ${o.incidentId})${o.error ? `: ${o.error}` : ''}`);
  }
  return result.outcomes.every((o) => o.status === 'applied') ? 0 : 1;
}

/** `cordon-agent apply --state FILE`: converge to the file's state; exit 0 only if every enforcement is in place. */
export async function applyCommand(engine: Engine, stateFile: string | undefined, out: Out): Promise<number> {
  if (!stateFile) throw new CordonError('invalid', 'apply needs --state FILE', { field: '--state' });
  let text: string;
  try {
    text = readFileSync(stateFile, 'utf8');
  } catch (err) {
    throw new CordonError('invalid', `cannot read ${stateFile}: ${(err as NodeJS.ErrnoException).code ?? err}`, { field: '--state' });
  }
  // Validate before loading anything, so a bad file changes nothing at all.
  const desired = parseDesiredText(text, stateFile);
  engine.load();
  return printOutcomes(await engine.converge(desired), out);
}

/** `cordon-agent apply-saved`: re-apply what was saved (at boot, before the network is up). */
export async function applySavedCommand(engine: Engine, out: Out): Promise<number> {
  const result = await engine.restore();
  if (!result) {
    out('no saved state: nothing to apply');
    return 0;
  }
  return printOutcomes(result, out);
}

/** `cordon-agent status [--json]`: what is held and what the host really shows. */
export async function statusCommand(engine: Engine, json: boolean, out: Out): Promise<number> {
  engine.load();
  const result = await engine.status();
  if (json) {
    out(
      JSON.stringify(
        {
          generation: result.generation.toString(),
          digest: result.digest,
          enforcements: result.outcomes,
          observed: result.observed,
        },
        null,
        2,
      ),
    );
    return 0;
  }
  printOutcomes(result, out);
  return 0;
}

/**
 * `cordon-agent release-all`: remove every restriction Cordon enforces, for an emergency. Not the watch
 * table (it only counts) nor managed security's brute-force guard (bans the customer took as a service,
 * lifted from their page or by turning the guard off): a running daemon would put the guard back anyway.
 */
export async function releaseAllCommand(engine: Engine, out: Out): Promise<number> {
  engine.load();
  await engine.releaseAll();
  out('released: table inet cordon removed, Cordon throttles removed, links Cordon downed raised');
  out('the host stays released until the controller sends a newer generation');
  out('not touched: the watch table inet cordon_watch (counting only) and the brute-force guard inet cordon_guard (managed security)');
  return 0;
}
