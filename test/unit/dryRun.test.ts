import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../agent/config.js';
import { createEngine } from '../../agent/createEngine.js';
import { parseDesired } from '../../agent/enforce/parseDesired.js';
import { RecordingRunner } from '../../proto/runtime/CommandRunner.js';
import { silentLogger } from '../../proto/runtime/logger.js';
import { REPO_ROOT } from '../helpers/paths.js';

describe('the dry-run backend', () => {
  it('reports what it would enforce and runs no command', async () => {
    const settings = loadAgentConfig({
      file: join(REPO_ROOT, 'deploy/examples/agent.json'),
      env: { CORDON_AGENT_BACKEND: 'dry-run', CORDON_AGENT_STATE_DIR: mkdtempSync(join(tmpdir(), 'cordon-dry-')) },
    }).getProperties();
    const runner = new RecordingRunner();
    const engine = createEngine(settings, silentLogger(), runner);
    const r = await engine.converge(
      parseDesired({
        generation: 1,
        enforcements: [
          { id: 'a', incidentId: 'i', reason: 'r', smtpBlock: {} },
          { id: 'b', incidentId: 'i', reason: 'r', throttle: { rateBps: 10_000_000 } },
          { id: 'c', incidentId: 'i', reason: 'r', nicDown: {} },
        ],
      }),
    );
    expect(r.outcomes.map((o) => o.status)).toEqual(['applied', 'applied', 'applied']);
    expect(runner.calls).toEqual([]);
  });
});
