// The apply loop of agent-apply.mjs, run inside the host's namespace as the
// agent runs on a host: nft, tc and ip started directly, not through
// `ip netns exec` (which starts a second process per command and made every
// apply look slower than on a real host).
//   ip netns exec NS node applyLoop.mjs SETTINGS_JSON N
// Prints one JSON line: { kind: [ms, …], … }.
import { pino } from 'pino';
import { createEngine } from '../../../dist/agent/createEngine.js';
import { parseDesired } from '../../../dist/agent/enforce/parseDesired.js';
import { ExecRunner } from '../../../dist/proto/runtime/CommandRunner.js';

const [settingsJson, n] = process.argv.slice(2);
const engine = createEngine(JSON.parse(settingsJson), pino({ level: 'silent' }), new ExecRunner());
const kinds = {
  smtp_block: { smtpBlock: {} },
  throttle: { throttle: { rateBps: '10000000' } },
  isolate: { isolate: {} },
  nic_down: { nicDown: {} },
};
let generation = 0;
const state = (action) =>
  parseDesired({ generation: String(++generation), enforcements: action ? [{ id: `e${generation}`, incidentId: 'bench', reason: 'bench', ...action }] : [] });

const out = {};
for (const [kind, action] of Object.entries(kinds)) {
  out[kind] = [];
  for (let i = 0; i < Number(n); i++) {
    const t0 = performance.now();
    const r = await engine.converge(state(action));
    out[kind].push(performance.now() - t0);
    if (r.outcomes[0].status !== 'applied') throw new Error(`${kind}: ${r.outcomes[0].status} ${r.outcomes[0].error}`);
    await engine.converge(state(undefined));
  }
}
process.stdout.write(JSON.stringify(out) + '\n');
process.exit(0);
